"""Quality raises alarms: a process-limit excursion raises one alarm on its tag, cleared when it ends;
an SPC rule violation raises one, both once however often the checks run (real database)."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from mes.quality.charts import ChartType
from mes.quality.jobs import run_quality_checks
from mes.quality.spc import ChartIn, compute_phase_one, create_chart, evaluate, freeze
from mes.quality.specs import SpecIn, create_spec
from tests.mes.quality.datasets import NIST_FLOWRATE
from tests.mes.quality.helpers import at, make_line, make_order, write_samples


def _alarms(db: psycopg.Connection, rule: str) -> list[tuple]:
    """(tag, priority, area, state, active, raised_at, cleared_at) of every occurrence of ``rule``."""
    return db.execute(
        "SELECT p.tag, o.priority, p.area, o.state, o.active, o.raised_at, o.cleared_at FROM alarm_occurrences o "
        "JOIN alarm_points p ON p.id = o.point_id WHERE p.rule = %s ORDER BY o.id", (rule,)).fetchall()  # fmt: skip


def test_an_excursion_raises_one_alarm_on_its_tag_cleared_when_it_ends(db: psycopg.Connection) -> None:
    make_line(db)
    make_order(db, "WO-1", at(0), None)
    create_spec(db, SpecIn(product_id="P1", line_id="L1", characteristic="oven", tag="oven", process_high=190,
                           min_duration_s=60))  # fmt: skip
    write_samples(db, "oven", [(at(m), 185.0) for m in range(10)] + [(at(10.5), 195.0)])
    assert run_quality_checks(db, at(12)).excursions == 1
    raised = [("oven", "high", "L1", "unacknowledged", True, at(10.5), None)]
    assert _alarms(db, "process_excursion") == raised
    assert run_quality_checks(db, at(13)).excursions == 1  # the open excursion is looked at again...
    assert _alarms(db, "process_excursion") == raised  # ...and adds no second alarm
    write_samples(db, "oven", [(at(14), 186.0)])
    run_quality_checks(db, at(16))
    assert _alarms(db, "process_excursion") == [
        ("oven", "high", "L1", "returned_unacknowledged", False, at(10.5), at(14))]
    run_quality_checks(db, at(20))
    assert len(_alarms(db, "process_excursion")) == 1


def test_an_spc_violation_raises_one_alarm(db: psycopg.Connection) -> None:
    make_line(db)
    spec = create_spec(db, SpecIn(product_id="P1", line_id="L1", characteristic="flow", tag="flow"))
    base = at(0)
    write_samples(db, "flow", [(base + timedelta(seconds=10 * i), v) for i, v in enumerate(NIST_FLOWRATE)])
    chart = create_chart(db, ChartIn(name="flow", chart_type=ChartType.imr, source="tag", tag="flow",
                                     spec_id=spec["id"]))  # fmt: skip
    chart = compute_phase_one(db, chart["id"], None, base + timedelta(seconds=100))
    freeze(db, chart["id"], by="qa")
    jump = base + timedelta(seconds=160)
    write_samples(db, "flow", [(base + timedelta(seconds=100 + 10 * i), 50.81) for i in range(5)]
                  + [(jump, 50.81 + 4 * chart["limits"]["process_sigma"])])  # fmt: skip
    assert [v["rule"] for v in evaluate(db, chart["id"])["violations"] if v["chart_part"] == "primary"] == ["nelson1"]
    evaluate(db, chart["id"])  # judged again: nothing new
    alarms = _alarms(db, "spc_violation")
    stored = db.execute("SELECT count(*) FROM spc_violations").fetchone()[0]
    assert len(alarms) == stored >= 1  # one alarm per violation recorded, not per evaluation
    assert {(tag, priority, area) for tag, priority, area, *_ in alarms} == {("flow", "medium", "L1")}
    assert jump in {raised_at for *_, raised_at, _ in alarms}
    # one point per chart: the newest violation's alarm waits for acknowledgement, earlier ones were superseded
    assert [state for _, _, _, state, *_ in alarms] == ["normal"] * (stored - 1) + ["returned_unacknowledged"]
