"""Inspection plans become due inspections on the line's to-do list; records close them, and
values out of spec open a nonconformance with the right order and lot."""

from __future__ import annotations

import psycopg
import pytest

from mes.quality.errors import QualityError
from mes.quality.genealogy import LotIn, create_lot
from mes.quality.inspections import (
    PlanIn,
    RecordIn,
    create_plan,
    record_from_tag,
    record_inspection,
    schedule_due,
    todo,
)
from mes.quality.nonconformances import get_nonconformance
from mes.quality.specs import SpecIn, create_spec
from tests.mes.quality.helpers import at, count, make_line, make_order, write_samples


@pytest.fixture
def setup(db: psycopg.Connection) -> dict:
    make_line(db)
    order = make_order(db, "WO-1", at(0), at(50))
    create_lot(db, LotIn(code="LOT-1", work_order_id=order, quantity=250, started_at=at(0), ended_at=at(50)))
    for minute in range(1, 51):
        count(db, "L1", at(minute), good=5)  # 250 units, 5 a minute
    spec = create_spec(db, SpecIn(product_id="P1", characteristic="diameter", unit="mm", target=74.0, lsl=73.95,
                                  usl=74.05, tag="ring_diameter"))
    return {"order": order, "spec": spec["id"]}


def test_plans_create_due_inspections_once_per_trigger(db: psycopg.Connection, setup: dict) -> None:
    spec = setup["spec"]
    create_plan(db, PlanIn(name="first-off", spec_id=spec, trigger="order_start", sample_size=5))
    create_plan(db, PlanIn(name="every 100", spec_id=spec, trigger="every_units", interval_value=100))
    create_plan(db, PlanIn(name="every 20 min", spec_id=spec, trigger="every_minutes", interval_value=20))
    create_plan(db, PlanIn(name="last-off", spec_id=spec, trigger="order_end"))
    created = schedule_due(db, at(55))
    due = sorted((d["trigger_key"], d["due_at"]) for d in created)
    assert due == sorted([
        ("order_start", at(0)),
        ("units:100", at(20)), ("units:200", at(40)),  # 5 units a minute
        ("minutes:1", at(20)), ("minutes:2", at(40)),
        ("order_end", at(50)),
    ])  # fmt: skip
    assert schedule_due(db, at(55)) == []  # idempotent
    listed = todo(db, "L1", at(55))
    overdue = {d["trigger_key"] for d in listed if d["overdue"]}
    assert overdue == {"order_start", "units:100", "minutes:1"}  # 15 min grace: due at 40 is not late at 55
    overdue_events = "SELECT count(*) FROM quality_events WHERE kind = 'inspection_overdue'"
    assert db.execute(overdue_events).fetchone()[0] == 3
    todo(db, "L1", at(55))
    assert db.execute(overdue_events).fetchone()[0] == 3  # one event per overdue inspection, ever
    todo(db, "L1", at(56))
    assert db.execute(overdue_events).fetchone()[0] == 5


def test_a_record_out_of_spec_opens_a_nonconformance_on_the_order_and_lot(db: psycopg.Connection, setup: dict) -> None:
    plan = create_plan(db, PlanIn(name="first-off", spec_id=setup["spec"], trigger="order_start", sample_size=5))
    due = schedule_due(db, at(10))[0]
    record = record_inspection(db, RecordIn(spec_id=setup["spec"], due_id=due["id"], lot_code="LOT-1",
                                            inspector="ana", time=at(12),
                                            measurements=[74.01, 73.99, 74.06, 74.00, 73.94]))
    assert record["passed"] is False and record["nonconforming"] == 2
    assert record["plan_id"] == plan["id"] and record["work_order_id"] == setup["order"]
    nc = get_nonconformance(db, record["nonconformance_id"])
    assert (nc["work_order_id"], nc["lot_code"], nc["quantity"], nc["source"]) == (setup["order"], "LOT-1", 2,
                                                                                   "inspection")
    assert "2 of 5 out of spec" in nc["description"]
    assert todo(db, "L1", at(30)) == []  # the record closed the due inspection
    with pytest.raises(QualityError, match="already done"):
        record_inspection(db, RecordIn(spec_id=setup["spec"], due_id=due["id"], measurements=[74.0]))


def test_a_passing_record_and_an_attribute_record_with_defects(db: psycopg.Connection, setup: dict) -> None:
    ok = record_inspection(db, RecordIn(spec_id=setup["spec"], work_order_id=setup["order"], time=at(5),
                                        measurements=[74.0, 74.01]))
    assert ok["passed"] is True and ok["nonconformance_id"] is None and ok["line_id"] == "L1"
    visual = create_spec(db, SpecIn(product_id="P1", characteristic="visual", kind="attribute"))
    bad = record_inspection(db, RecordIn(spec_id=visual["id"], work_order_id=setup["order"], sample_size=50,
                                         nonconforming=3, defects={"scratch": 2, "dent": 1}, time=at(6)))
    assert bad["passed"] is False
    assert get_nonconformance(db, bad["nonconformance_id"])["defect_code"] == "scratch"
    with pytest.raises(QualityError, match="measured: give measurements"):
        record_inspection(db, RecordIn(spec_id=setup["spec"], sample_size=5))


def test_an_automatic_inspection_reads_the_bound_tag(db: psycopg.Connection, setup: dict) -> None:
    write_samples(db, "ring_diameter", [(at(m), 74.0 + m / 1000) for m in range(10)])
    record = record_from_tag(db, setup["spec"], at(9), sample_size=3, work_order_id=setup["order"])
    assert record["source"] == "tag"
    assert record["measurements"] == pytest.approx([74.007, 74.008, 74.009])
    assert record["passed"] is True


def test_a_tag_value_no_person_may_type_leaves_the_inspection_due(db: psycopg.Connection, setup: dict) -> None:
    """A device can send 1e300 or NaN; an automatic inspection refuses it (the due stays open and turns
    overdue) instead of storing it or failing the whole quality pass."""
    write_samples(db, "ring_diameter", [(at(0), 74.0), (at(1), 1e300), (at(2), float("nan"))])
    with pytest.raises(QualityError, match=r"ring_diameter: 1e\+300 is not a measurement"):
        record_from_tag(db, setup["spec"], at(1), sample_size=1)
    with pytest.raises(QualityError, match="nan is not a measurement"):
        record_from_tag(db, setup["spec"], at(2), sample_size=1)
    assert record_from_tag(db, setup["spec"], at(0), sample_size=1)["measurements"] == [74.0]


def test_an_automatic_plan_is_taken_from_the_tag_when_due(db: psycopg.Connection, setup: dict) -> None:
    from mes.quality.jobs import run_quality_checks

    write_samples(db, "ring_diameter", [(at(m), 74.0 if m != 40 else 74.2) for m in range(0, 60)])
    create_plan(db, PlanIn(name="gauge", spec_id=setup["spec"], trigger="every_minutes", interval_value=20,
                           automatic=True))
    report = run_quality_checks(db, at(55))
    assert (report.due_created, report.taken_from_tags, report.overdue) == (2, 2, 0)
    taken = db.execute("SELECT time, measurements, passed, nonconforming FROM inspection_records "
                       "ORDER BY time").fetchall()
    assert taken == [(at(20), [74.0], True, 0), (at(40), [74.2], False, 1)]
    assert todo(db, "L1", at(55)) == []
    with pytest.raises(QualityError, match="bound tag"):
        visual = create_spec(db, SpecIn(product_id="P1", characteristic="visual", kind="attribute"))
        create_plan(db, PlanIn(name="x", spec_id=visual["id"], trigger="order_start", automatic=True))


def test_a_changeover_during_the_order_makes_an_inspection_due_when_it_ends(db: psycopg.Connection, setup) -> None:
    db.execute("INSERT INTO state_intervals (equipment_id, period, state) VALUES "
               "('L1', tstzrange(%s, %s), 'running'), ('L1', tstzrange(%s, %s), 'changeover'), "
               "('L1', tstzrange(%s, %s), 'running')", (at(0), at(20), at(20), at(27), at(27), at(50)))
    create_plan(db, PlanIn(name="after changeover", spec_id=setup["spec"], trigger="changeover"))
    due = schedule_due(db, at(55))
    assert [(d["trigger_key"].split(":")[0], d["due_at"]) for d in due] == [("changeover", at(27))]
