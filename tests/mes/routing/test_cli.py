"""``linebrain routing``: the simulated garment plant into a database, an order's tracking and the
operator output file, as a shell user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import psycopg
from typer.testing import CliRunner

from mes.cli import app
from mes.routing import flow

runner = CliRunner(env={"COLUMNS": "200"})


def test_simulate_track_and_export_the_output(db_url: str, db: psycopg.Connection, tmp_path: Path) -> None:
    url = ["--database-url", db_url]
    made = runner.invoke(app, ["routing", "simulate", "--sewing", "9", "--hours-ago", "3", "--user", "ann", *url])
    assert made.exit_code == 0, made.output
    assert "G-4711" in made.output and "st04 was down 30–70 min" in made.output
    again = runner.invoke(app, ["routing", "simulate", "--user", "ann", *url])
    assert again.exit_code == 2 and "--number: order number 'G-4711' exists already" in again.output
    shown = runner.invoke(app, ["routing", "track", "G-4711", "--json", *url])
    tracked = json.loads(shown.output)
    order_id = tracked["order"]["id"]
    assert [op["wip"] for op in tracked["operations"]] == [
        op["wip"] for op in flow.tracking(db, order_id, datetime.now(UTC))["operations"]]
    assert len(tracked["operations"]) == 12 and tracked["progress"] >= 0
    file = tmp_path / "output.xlsx"
    written = runner.invoke(app, ["routing", "output", "--detail", "--file", str(file), *url])
    assert written.exit_code == 0, written.output
    sheet = openpyxl.load_workbook(file).active
    header = [cell.value for cell in sheet[1]]
    assert header[:2] == ["operator", "shift_id"] and "earned_minutes" in header and sheet.max_row > 1
    audit = db.execute("SELECT actor, route FROM audit_log WHERE action = 'routing.plan'").fetchall()
    assert audit == [("cli:ann", "cli: routing simulate")]
