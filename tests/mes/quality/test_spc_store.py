"""Stored SPC charts: Phase I limits from inspection records, frozen, Phase II violations
recorded once as events the alarm system picks up."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mes.quality.charts import ChartType
from mes.quality.errors import InvalidTransition
from mes.quality.events import events_since
from mes.quality.inspections import RecordIn, record_inspection
from mes.quality.spc import ChartIn, compute_phase_one, create_chart, evaluate, freeze
from mes.quality.specs import SpecIn, create_spec
from tests.mes.quality.datasets import NIST_FLOWRATE, PISTON_RINGS, PISTON_RINGS_PHASE_ONE
from tests.mes.quality.helpers import at, make_line, write_samples


def test_piston_ring_chart_from_inspections_phase_one_then_frozen_phase_two(db: psycopg.Connection) -> None:
    """Montgomery Table 6.3/6.4: limits from samples 1–25, then 37, 38, 39 above the frozen UCL."""
    make_line(db)
    spec = create_spec(db, SpecIn(product_id="P1", characteristic="inside diameter", unit="mm", lsl=73.95,
                                  usl=74.05))
    for i, group in enumerate(PISTON_RINGS):
        record_inspection(db, RecordIn(spec_id=spec["id"], time=at(10 * i), measurements=group, inspector="qc"))
    chart = create_chart(db, ChartIn(name="rings", chart_type=ChartType.xbar_r, spec_id=spec["id"], subgroup_size=5))
    with pytest.raises(InvalidTransition, match="Phase I"):
        evaluate(db, chart["id"])
    chart = compute_phase_one(db, chart["id"], None, at(10 * PISTON_RINGS_PHASE_ONE))
    assert chart["limits"]["primary"]["center"] == pytest.approx(74.00118, abs=5e-6)
    assert chart["limits"]["secondary"]["center"] == pytest.approx(0.02276, abs=5e-6)
    freeze(db, chart["id"], by="qa-lead")
    result = evaluate(db, chart["id"])
    assert len(result["points"]) == len(PISTON_RINGS) - PISTON_RINGS_PHASE_ONE
    beyond = sorted({v["time"] for v in result["violations"] if v["rule"] == "nelson1"})
    assert beyond == [at(10 * 36), at(10 * 37), at(10 * 38)]  # samples 37, 38, 39
    events = [e for e in events_since(db) if e["kind"] == "spc_violation"]
    assert len(events) == len(result["violations"])
    assert {e["rule"] for e in events} >= {"nelson1", "nelson5"}
    # Judging again records nothing new: one event per violation, ever.
    evaluate(db, chart["id"])
    assert len([e for e in events_since(db) if e["kind"] == "spc_violation"]) == len(events)
    with pytest.raises(InvalidTransition, match="frozen"):
        compute_phase_one(db, chart["id"], None, None)


def test_individuals_chart_straight_from_a_tag(db: psycopg.Connection) -> None:
    """NIST e-Handbook flow-rate data as Phase I; then a step of +4σ in the tag is caught."""
    make_line(db)
    base = at(0)
    series = [(base + timedelta(seconds=10 * i), v) for i, v in enumerate(NIST_FLOWRATE)]
    write_samples(db, "flow", series)
    chart = create_chart(db, ChartIn(name="flow", chart_type=ChartType.imr, source="tag", tag="flow"))
    chart = compute_phase_one(db, chart["id"], None, base + timedelta(seconds=100))
    assert chart["limits"]["primary"]["ucl"] == pytest.approx(55.8041, abs=0.002)
    freeze(db, chart["id"], by="qa")
    later = [(base + timedelta(seconds=100 + 10 * i), 50.81) for i in range(5)]
    later.append((base + timedelta(seconds=160), 50.81 + 4 * chart["limits"]["process_sigma"]))
    write_samples(db, "flow", later)
    result = evaluate(db, chart["id"])
    assert [(v["rule"], v["time"]) for v in result["violations"] if v["chart_part"] == "primary"] == [
        ("nelson1", base + timedelta(seconds=160))
    ]


@pytest.mark.parametrize("subgroup_seconds", [60.0, None], ids=["by-time", "by-count"])
def test_xbar_r_chart_from_a_tag_subgrouped_by_time_or_count(db: psycopg.Connection, subgroup_seconds) -> None:
    """The piston rings as a gauge tag: five readings a minute (plus one stray reading in the
    sixth second of each minute when grouping by time, which the first-n rule leaves out)."""
    make_line(db)
    series = []
    for minute, group in enumerate(PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]):
        series += [(at(minute) + timedelta(seconds=10 * i), v) for i, v in enumerate(group)]
        if subgroup_seconds:
            series.append((at(minute) + timedelta(seconds=55), 80.0))
    write_samples(db, "ring_gauge", series)
    chart = create_chart(db, ChartIn(name="gauge", chart_type=ChartType.xbar_r, source="tag", tag="ring_gauge",
                                     subgroup_size=5, subgroup_seconds=subgroup_seconds))
    chart = compute_phase_one(db, chart["id"], None, None)
    assert chart["limits"]["subgroups_used"] == PISTON_RINGS_PHASE_ONE
    assert chart["limits"]["primary"]["center"] == pytest.approx(74.00118, abs=5e-6)
    assert chart["limits"]["secondary"]["center"] == pytest.approx(0.02276, abs=5e-6)
