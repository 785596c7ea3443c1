"""A manager's period report besides OEE: the stops behind each Pareto bar (adding up to the bar),
orders completed on time, first pass yield — against hand-computed examples."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mes.errors import InvalidInput
from mes.production import derive, kpi, orders, period_report
from tests.mes.production.scenario import FAULT, IDLE, JAM, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def period(db: psycopg.Connection) -> psycopg.Connection:
    """Two 15 s faults (minor stops, threshold 30 s), a jam from 20 to 30 min followed by idle to 40
    (one stop, its reason 'jam' from the fault code); 100 good and 2 rejects a minute; three orders:
    on time, 10 min late, no due time."""
    derive.run_once(db, plant(), now=at(-60))
    first = orders.create_order(db, "W-1", "line1", "lager", 100, by="planner", due_at=at(35))
    second = orders.create_order(db, "W-2", "line1", "lager", 100, by="planner", due_at=at(45))
    third = orders.create_order(db, "W-3", "line1", "lager", 100, by="planner")
    for order, start, end in ((first, 0, 30), (second, 30, 55), (third, 55, 58)):
        orders.transition(db, order["id"], "running", "ann", at=at(start))
        orders.transition(db, order["id"], "completed", "ann", at=at(end))
    writer = SampleWriter(db)
    state_series(writer, [
        (at(0), at(10), RUNNING), (at(10), at(10.25), FAULT), (at(10.25), at(11), RUNNING),
        (at(11), at(11.25), FAULT), (at(11.25), at(20), RUNNING), (at(20), at(30), JAM),
        (at(30), at(40), IDLE), (at(40), at(60), RUNNING),
    ])  # fmt: skip
    for minute in range(61):  # 100 good and 2 rejects a minute
        writer.add("good", at(minute), 100.0 * minute)
        writer.add("reject", at(minute), 2.0 * minute)
    writer.flush()
    derive.run_once(db, plant(), now=at(60))
    return db


def test_the_stops_behind_a_pareto_bar_are_the_ones_that_made_it(period: psycopg.Connection) -> None:
    minor = period_report.pareto_stops(period, "line1", at(0), at(60), "minor_stop")
    assert [(s["event_start"], s["event_end"], s["seconds"]) for s in minor] == [
        (at(10), at(10.25), pytest.approx(15)), (at(11), at(11.25), pytest.approx(15))]
    (jam,) = period_report.pareto_stops(period, "line1", at(0), at(60), "jam")
    assert (jam["event_start"], jam["event_end"], jam["reason_code"], jam["automatic"]) == (
        at(20), at(40), "jam", True)
    assert jam["seconds"] == pytest.approx(1200)


def test_the_stops_of_every_bar_add_up_to_the_bar(period: psycopg.Connection) -> None:
    window = (at(5), at(35))  # cuts the jam: only its part inside the window counts
    bars = kpi.downtime_pareto(period, "line1", *window)
    assert bars, "the period has downtime"
    for bar in bars:
        stops = period_report.pareto_stops(period, "line1", *window, bar["reason_code"])
        assert sum(s["seconds"] for s in stops) == pytest.approx(bar["seconds"]), bar["reason_code"]
        assert len([s for s in stops if s["event_id"] is not None]) == bar["events"]
    (jam,) = period_report.pareto_stops(period, "line1", *window, "jam")
    assert jam["seconds"] == pytest.approx(900)


def test_a_bar_must_be_named(period: psycopg.Connection) -> None:
    with pytest.raises(InvalidInput, match="Pareto"):
        period_report.pareto_stops(period, "line1", at(0), at(60), "")


def test_on_time_rate_counts_orders_with_a_due_time(period: psycopg.Connection) -> None:
    delivered = period_report.order_delivery(period, "line1", at(0), at(60))
    assert [(o["number"], o["on_time"]) for o in delivered] == [("W-1", True), ("W-2", False), ("W-3", None)]
    assert delivered[1]["late_seconds"] == pytest.approx(600)
    assert period_report.on_time_rate(delivered) == {"completed": 3, "with_due": 2, "on_time": 1, "late": 1,
                                                     "no_due": 1, "rate": 0.5}  # fmt: skip
    assert [o["number"] for o in period_report.order_delivery(period, "line1", at(31), at(60))] == ["W-2", "W-3"]


def test_first_pass_yield_leaves_out_scrap_and_rework() -> None:
    assert period_report.with_yield({"pq": 200.0, "sq": 10.0, "rq": 6.0})["first_pass_yield"] == pytest.approx(0.92)
    assert period_report.with_yield({"pq": 0.0, "sq": 0.0, "rq": 0.0})["first_pass_yield"] is None


def test_lines_side_by_side_read_through_the_hourly_cache_give_the_timelines_numbers(
        period: psycopg.Connection) -> None:  # fmt: skip
    window = (at(-30), at(50))  # whole hours 07:00 and (partly) 08:00 cached, the edges live
    before = period_report.lines_kpi(period, *window)
    assert period.execute("SELECT grafana.refresh_kpi_hours(100)").fetchone()[0] > 0
    cached = period_report.lines_kpi(period, *window)
    direct = kpi.period_kpi(period, "line1", *window)
    for rows in (before, cached):
        (line,) = [r for r in rows if r["group_key"] == "line1"]
        for name in ("pbt", "apt", "pq", "gq", "sq", "oee", "availability", "effectiveness", "quality_ratio"):
            assert line[name] == pytest.approx(direct[name]), name
        assert line["first_pass_yield"] == pytest.approx((direct["pq"] - direct["sq"] - direct["rq"]) / direct["pq"])
