"""Every panel of every exported dashboard against the demo: simulator → collectors → store → MES.

`linebrain demo`'s own run (an hour of the brewery line in 20 s) fills the
database; quality records are added on top, since the demo records none. The
demo plant binds no process-limit tag, so process excursions are the one panel
allowed to be empty here (test_panels.py covers it on the test plant).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from collectors.database.embedded import EmbeddedPostgres
from mes.cli.demo import run_demo
from mes.grafana.dashboards import all_dashboards
from mes.grafana.provisioning import dashboard_documents
from mes.grafana.role import ensure_role
from tests.conftest import ExternalServer, create_database, drop_database, free_port, login_url
from tests.mes.grafana.harness import check_shape, run_dashboard
from tests.mes.grafana.plant_data import record_quality

MAY_BE_EMPTY = {"Process excursions"}
SHAPES = {panel.title: panel.shape for dashboard in all_dashboards() for panel in dashboard.panels}


@pytest.fixture(scope="module")
def demo_db(
    pg_server: EmbeddedPostgres | ExternalServer, template_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    url = create_database(pg_server, "demo", template_name)
    run = asyncio.run(run_demo(url, 20, 180, 1, free_port(), tmp_path_factory.mktemp("demo")))
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        record_quality(conn, run["start"], run["end"], process_tag=None)
        ensure_role(conn, role, "demo-password")
    yield {"reader_url": login_url(url, role, "demo-password"), "start": run["start"]}
    drop_database(pg_server, url)


@pytest.mark.parametrize("uid", sorted(d.uid for d in all_dashboards()))
def test_every_panel_runs_on_the_demo(uid: str, demo_db: dict) -> None:
    dashboard = next(d for d in dashboard_documents("Europe/Berlin").values() if d["uid"] == uid)
    with psycopg.connect(demo_db["reader_url"], autocommit=True) as conn:
        results = run_dashboard(conn, dashboard, demo_db["start"], datetime.now(UTC), 1000)
    problems = [
        f"{r.panel}: {problem}"
        for r in results
        for problem in check_shape(r, SHAPES[r.panel])
        if not (problem == "returned no rows" and r.panel in MAY_BE_EMPTY)
    ]
    assert not problems, "\n".join(problems)
