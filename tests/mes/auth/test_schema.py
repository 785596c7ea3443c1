"""schemathesis over every operation of the served API, signed in as an admin (so writes get
past the role check and reach the domain): no answer is a server error."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import psycopg
import schemathesis
from hypothesis import HealthCheck, given, settings

from mes.production import derive
from tests.mes.auth.helpers import user_with_token
from tests.mes.auth.server import linebrain_serve
from tests.mes.production.scenario import local, plant

EXAMPLES = int(os.environ.get("LINEBRAIN_SCHEMA_EXAMPLES", "4"))  # more for a deeper local run


def test_the_whole_api_holds_without_server_errors(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    derive.run_once(db, plant(), now=local("2026-03-04", "06:00") - timedelta(hours=1))
    # Generated ids are small: keep our own token out of reach of a generated DELETE /api/tokens/{id}.
    db.execute("SELECT setval(pg_get_serial_sequence('api_tokens', 'id'), 1000000000)")
    headers = user_with_token(db, "root", "admin")
    with linebrain_serve(db_url, tmp_path) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        checked = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call(base_url=base, headers=headers)
                assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

            no_server_error()
            checked.append(f"{operation.method.upper()} {operation.path}")
    assert {"POST /api/users", "DELETE /api/tokens/{token_id}", "GET /api/audit", "GET /readyz"} <= set(checked)
    assert len(checked) >= 60, checked
