"""Schema fuzzing of the API: every operation under some paths, fed schemathesis-generated input
through the ASGI app against a real database, must never answer with a server error.

Examples per operation: ``LINEBRAIN_SCHEMA_EXAMPLES`` (default 10, so the suite stays quick; the
deep run is ``LINEBRAIN_SCHEMA_EXAMPLES=200``). The examples are derandomized by the ``ci``
hypothesis profile (tests/conftest.py): a failure reproduces on every run, and hypothesis prints
the falsifying case.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

SCHEMA_EXAMPLES = int(os.environ.get("LINEBRAIN_SCHEMA_EXAMPLES", "10"))


def operations_without_server_errors(app: FastAPI, prefixes: tuple[str, ...], headers: Mapping[str, str]) -> list[str]:
    """Fuzz every operation whose path starts with one of ``prefixes``, sending ``headers`` (a signed-in
    user's credentials) to localhost; the operations checked."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "localhost"})
    sent = {"Host": "localhost", **headers}
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefixes):
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=SCHEMA_EXAMPLES, suppress_health_check=list(HealthCheck))
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(headers=sent)
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

        no_server_error()
        checked.append(f"{operation.method.upper()} {operation.path}")
    return checked
