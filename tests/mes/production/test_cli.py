"""``linebrain orders`` and ``linebrain kpi`` against a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
from typer.testing import CliRunner

from mes.cli import app
from mes.production import derive
from tests.mes.production.scenario import FAULT, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")
runner = CliRunner(env={"COLUMNS": "200"})


def test_orders_and_kpi_from_the_command_line(db: psycopg.Connection, db_url: str) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    url = ["--database-url", db_url]
    created = runner.invoke(app, ["orders", "create", "W-7", "--line", "line1", "--product", "lager",
                                  "--quantity", "100", "--user", "ann", *url])  # fmt: skip
    assert created.exit_code == 0, created.output
    started = runner.invoke(app, ["orders", "start", "W-7", "--at", "2026-03-04T07:00", "--user", "ann", *url])
    assert started.exit_code == 0 and "running" in started.output
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=40), RUNNING), (T0 + timedelta(minutes=40), T0 + timedelta(
        minutes=60), FAULT)])
    for minute in range(61):
        writer.add("good", T0 + timedelta(minutes=minute), 60 * min(minute, 40))
    writer.flush()
    derive.run_once(db, plant(), now=T0 + timedelta(minutes=60))
    result = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04T07:00", "--to", "2026-03-04T08:00",
                                 "--json", *url])  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["availability"] == 40 / 60
    assert row["pq"] == 2400 and row["effectiveness"] == 2400 * 0.5 / 2400
    listed = json.loads(runner.invoke(app, ["orders", "list", "--json", *url]).output)
    assert listed[0]["number"] == "W-7" and listed[0]["progress"]["good"] == 2400
    table = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04T07:00", "--to", "2026-03-04T08:00",
                                "--by", "order", *url])  # fmt: skip
    assert table.exit_code == 0 and "W-7" in table.output
    bad = runner.invoke(app, ["orders", "start", "W-7", *url])
    assert bad.exit_code == 2 and "running" in bad.output
    audit = db.execute("SELECT actor, action, route, before->>'status', after->>'status' FROM audit_log "
                       "WHERE object = %s ORDER BY id", (f"order:{listed[0]['id']}",)).fetchall()  # fmt: skip
    # the refused start: none
    assert audit == [("cli:ann", "orders.plan", "cli: orders create", None, "planned"),
                     ("cli:ann", "orders.transition", "cli: orders start", "planned", "running")]


def test_a_quantity_that_is_not_a_number_names_the_option(db: psycopg.Connection, db_url: str) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    refused = runner.invoke(app, ["orders", "create", "W-8", "--line", "line1", "--product", "lager",
                                  "--quantity", "nan", "--database-url", db_url])  # fmt: skip
    assert refused.exit_code == 2 and "--quantity: planned_quantity must be a finite number" in refused.output
