"""``linebrain trace`` and ``linebrain quality``: the genealogy and nonconformances from the shell."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from mes.cli import app
from mes.quality.genealogy import LotIn, consume, create_lot
from tests.mes.quality.helpers import at, make_line, make_order

runner = CliRunner()


def test_trace_forward_and_backward_from_the_cli(db: psycopg.Connection, db_url: str) -> None:
    make_line(db)
    order = make_order(db, "WO-1", at(0), at(60))
    create_lot(db, LotIn(code="S-100", kind="material", product="resin", supplier_lot="ACME-7", quantity=10))
    create_lot(db, LotIn(code="F-1", work_order_id=order, quantity=5, started_at=at(0), ended_at=at(60)))
    consume(db, "S-100", "F-1", 10)
    forward = runner.invoke(app, ["trace", "S-100", "--forward", "--json", "--database-url", db_url])
    assert forward.exit_code == 0, forward.output
    assert {lot["code"] for lot in json.loads(forward.output)["lots"]} == {"S-100", "F-1"}
    backward = runner.invoke(app, ["trace", "F-1", "--database-url", db_url])
    assert backward.exit_code == 0, backward.output
    assert "S-100" in backward.output and "backward trace of F-1" in backward.output
    missing = runner.invoke(app, ["trace", "NOPE", "--database-url", db_url])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_disposition_errors_exit_2_with_the_reason(db: psycopg.Connection, db_url: str) -> None:
    result = runner.invoke(app, ["quality", "disposition", "1", "burn", "3", "--approved-by", "qa",
                                 "--database-url", db_url])
    assert result.exit_code == 2 and "disposition" in result.output
    listed = runner.invoke(app, ["quality", "ncs", "--json", "--database-url", db_url])
    assert listed.exit_code == 0 and json.loads(listed.output) == []


def test_quality_check_runs_every_automatic_check(db: psycopg.Connection, db_url: str) -> None:
    from mes.quality.specs import SpecIn, create_spec
    from tests.mes.quality.helpers import write_samples

    make_line(db)
    make_order(db, "WO-1", at(0), at(30))
    create_spec(db, SpecIn(product_id="P1", characteristic="oven", tag="oven", process_high=190, min_duration_s=60))
    write_samples(db, "oven", [(at(0), 185.0), (at(10), 195.0), (at(15), 185.0)])
    result = runner.invoke(app, ["quality", "check", "--now", at(40).strftime("%Y-%m-%dT%H:%M:%S"),
                                 "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "excursions touched: 1" in result.output


def test_disposition_and_close_from_the_cli_are_audited(db: psycopg.Connection, db_url: str) -> None:
    from mes.quality.nonconformances import NonconformanceIn, create_nonconformance

    make_line(db)
    order = make_order(db, "WO-1", at(0), at(60))
    nc = create_nonconformance(db, NonconformanceIn(work_order_id=order, quantity=5, description="scratched"))
    url = ["--database-url", db_url]
    done = runner.invoke(app, ["quality", "disposition", str(nc["id"]), "use_as_is", "5", "--approved-by", "qa", *url])
    assert done.exit_code == 0, done.output
    closed = runner.invoke(app, ["quality", "close", str(nc["id"]), "--by", "qa", *url])
    assert closed.exit_code == 0, closed.output
    again = runner.invoke(app, ["quality", "close", str(nc["id"]), "--by", "qa", *url])
    assert again.exit_code != 0
    audit = db.execute("SELECT actor, action, route, before->>'status', after->>'status' FROM audit_log "
                       "WHERE object = %s ORDER BY id", (f"nonconformance:{nc['id']}",)).fetchall()
    assert audit == [("cli:qa", "quality.disposition", "cli: quality disposition", "open", "dispositioned"),
                     ("cli:qa", "quality.disposition", "cli: quality close", "dispositioned", "closed")]
