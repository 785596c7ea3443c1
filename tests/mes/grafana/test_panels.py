"""Every panel query of every exported dashboard runs, as Grafana's role, and returns what its panel draws."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from mes.cli import app
from mes.grafana.dashboards import all_dashboards
from tests.mes.grafana.conftest import GrafanaDatabase
from tests.mes.grafana.harness import check_shape, run_dashboard

SHAPES = {dashboard.uid: [panel.shape for panel in dashboard.panels] for dashboard in all_dashboards()}



@pytest.fixture(scope="module")
def exported(grafana_db: GrafanaDatabase, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("grafana")
    result = CliRunner().invoke(app, ["grafana", "export", str(out), "--database-url", grafana_db.url,
                                      "--role", grafana_db.role, "--timezone", "Europe/Berlin"])  # fmt: skip
    assert result.exit_code == 0, result.output
    files = sorted((out / "dashboards" / "linebrain").glob("*.json"))
    return [json.loads(Path(file).read_text()) for file in files]


def test_export_writes_every_dashboard(exported: list[dict]) -> None:
    assert {dashboard["uid"] for dashboard in exported} == set(SHAPES)
    assert all(dashboard["timezone"] == "Europe/Berlin" for dashboard in exported)


# Panel widths in data points: 1000 gives 10 s buckets (raw samples), 30 gives 5 min
# (minute rollups), 2 gives 1 h (hour rollups); "days" widens the range to three
# days, where production panels switch to the hourly KPI cache.
@pytest.mark.parametrize("points", [1000, 30, 2, "days"])
@pytest.mark.parametrize("uid", sorted(SHAPES))
def test_every_panel_query_runs_as_grafana_and_returns_what_the_panel_draws(
    uid: str, points: int | str, exported: list[dict], grafana_db: GrafanaDatabase
) -> None:
    dashboard = next(d for d in exported if d["uid"] == uid)
    start = grafana_db.start - timedelta(days=3) if points == "days" else grafana_db.start
    with psycopg.connect(grafana_db.reader_url, autocommit=True) as conn:
        results = run_dashboard(conn, dashboard, start, grafana_db.end, 1500 if points == "days" else int(points))
    shapes = {panel.title: panel.shape for d in all_dashboards() if d.uid == uid for panel in d.panels}
    assert {r.panel for r in results} == set(shapes)
    problems = [f"{r.panel}: {p}" for r in results for p in check_shape(r, shapes[r.panel])]
    assert not problems, "\n".join(problems)
