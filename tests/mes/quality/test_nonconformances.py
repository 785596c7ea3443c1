"""Nonconformance lifecycle, and scrap/rework reaching the production core's KPIs."""

from __future__ import annotations

import psycopg
import pytest

from mes.quality.errors import InvalidTransition, NotFound, QualityError
from mes.quality.genealogy import LotIn, create_lot
from mes.quality.nonconformances import (
    DispositionIn,
    NonconformanceIn,
    close,
    create_nonconformance,
    disposition,
)
from mes.quality.summary import order_quality
from tests.mes.quality.helpers import at, count, make_line, make_order


def order_kpi(db: psycopg.Connection, order_id: int) -> dict:
    row = db.execute(
        "SELECT pq, gq, sq, rq, quality_ratio, scrap_ratio, rework_ratio FROM mes_kpi('L1', %s, %s, 'order') "
        "WHERE group_key = %s",
        (at(-60), at(600), str(order_id)),
    ).fetchone()
    return dict(zip(("pq", "gq", "sq", "rq", "quality_ratio", "scrap_ratio", "rework_ratio"), row, strict=True))


@pytest.fixture
def order(db: psycopg.Connection) -> int:
    make_line(db)
    order_id = make_order(db, "WO-7", at(0), at(60))
    create_lot(db, LotIn(code="LOT-7", work_order_id=order_id, quantity=100, started_at=at(0), ended_at=at(60)))
    for minute in range(1, 61):
        count(db, "L1", at(minute), good=5, reject=0 if minute % 10 else 1)
    return order_id


def test_lifecycle_from_open_to_closed_with_history(db: psycopg.Connection, order: int) -> None:
    nc = create_nonconformance(db, NonconformanceIn(description="scratched housing", quantity=12, found_at="final QC",
                                                    lot_code="LOT-7", defect_code="scratch", reported_by="ana",
                                                    time=at(30)))
    assert (nc["work_order_id"], nc["lot_code"], nc["line_id"], nc["product_id"]) == (order, "LOT-7", "L1", "P1")
    assert nc["status"] == "open"
    with pytest.raises(InvalidTransition, match="only a fully dispositioned"):
        close(db, nc["id"], by="qa-lead")
    nc = disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=8, approved_by="qa-lead"))
    assert nc["status"] == "open"  # 4 still undecided
    with pytest.raises(QualityError, match="exceeds the 4"):
        disposition(db, nc["id"], DispositionIn(disposition="rework", quantity=5, approved_by="qa-lead"))
    nc = disposition(db, nc["id"], DispositionIn(disposition="use_as_is", quantity=4, approved_by="customer"))
    assert nc["status"] == "dispositioned"
    nc = close(db, nc["id"], by="qa-lead", note="containment done")
    assert nc["status"] == "closed" and nc["closed_by"] == "qa-lead"
    assert [h["to_status"] for h in nc["history"]] == ["open", "open", "dispositioned", "closed"]
    with pytest.raises(InvalidTransition):
        disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=1, approved_by="x"))
    event = db.execute("SELECT kind, source_id FROM quality_events WHERE kind = 'nonconformance'").fetchone()
    assert event == ("nonconformance", nc["id"])


def test_scrap_and_rework_dispositions_move_the_order_kpis(db: psycopg.Connection, order: int) -> None:
    before = order_kpi(db, order)
    pq, gq = 5 * 60 + 6, 5 * 60  # 5 good a minute, 1 reject every 10 minutes
    assert (before["pq"], before["gq"], before["rq"]) == (pq, gq, 0)

    nc = create_nonconformance(db, NonconformanceIn(description="short shot", quantity=30, work_order_id=order,
                                                    reported_by="ana", time=at(45)))
    disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=20, approved_by="qa-lead"))
    disposition(db, nc["id"], DispositionIn(disposition="rework", quantity=10, approved_by="qa-lead"))
    after = order_kpi(db, order)
    assert after["pq"] == pq  # nothing was produced twice
    assert after["gq"] == gq - 20 - 10  # ISO 22400-2: reworked units are not good
    assert after["sq"] == pq - (gq - 20)  # SQ = PQ - GQ - RQ
    assert after["rq"] == 10
    assert after["quality_ratio"] == pytest.approx((gq - 30) / pq)
    assert after["scrap_ratio"] == pytest.approx((pq - gq + 20) / pq)
    assert after["rework_ratio"] == pytest.approx(10 / pq)
    # The corrections are audited rows of the counts model, not silent edits.
    why = [r[0] for r in db.execute("SELECT why FROM count_adjustments ORDER BY id")]
    assert len(why) == 3 and all(f"nonconformance {nc['id']}" in w and "qa-lead" in w for w in why)
    summary = order_quality(db, order)
    assert summary["first_pass_yield"] == pytest.approx((pq - (pq - gq + 20) - 10) / pq)
    assert summary["nonconforming_quantity"] == 30


def test_disposition_time_outside_the_order_lands_inside_its_run(db: psycopg.Connection, order: int) -> None:
    nc = create_nonconformance(db, NonconformanceIn(description="found at customer", quantity=5, work_order_id=order,
                                                    time=at(500)))
    disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=5, approved_by="qa"))
    assert order_kpi(db, order)["gq"] == 300 - 5


def test_nonconformance_input_errors_are_clear(db: psycopg.Connection, order: int) -> None:
    with pytest.raises(NotFound, match="lot 'NOPE' not found"):
        create_nonconformance(db, NonconformanceIn(description="x", quantity=1, lot_code="NOPE"))
    nc = create_nonconformance(db, NonconformanceIn(description="x", quantity=1, work_order_id=order))
    with pytest.raises(QualityError, match="who approved it"):
        disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=1))
    with pytest.raises(ValueError, match="disposition"):
        DispositionIn(disposition="burn", quantity=1, approved_by="qa")
