"""Downtime events: derived from states, split and merged with who/when/why, never overwritten."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mes.errors import Conflict, InvalidInput
from mes.production import derive, downtime, kpi, orders
from tests.mes.production.scenario import FAULT, IDLE, JAM, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")


def at(minutes: float):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def stops(db: psycopg.Connection) -> psycopg.Connection:
    derive.run_once(db, plant(), now=at(-60))
    order = orders.create_order(db, "W-1", "line1", "lager", 100, by="planner")
    orders.transition(db, order["id"], "running", "ann", at=at(0))
    writer = SampleWriter(db)
    state_series(writer, [
        (at(0), at(10), RUNNING), (at(10), at(10.25), FAULT), (at(10.25), at(11), RUNNING),
        (at(11), at(11.25), FAULT), (at(11.25), at(20), RUNNING), (at(20), at(30), JAM),
        (at(30), at(40), IDLE), (at(40), at(60), RUNNING),
    ])  # fmt: skip
    writer.flush()
    derive.run_once(db, plant(), now=at(60))
    return db


def test_stops_are_derived_with_fault_codes_and_auto_reasons(stops: psycopg.Connection) -> None:
    events = downtime.list_events(stops, "line1", at(0), at(60))
    assert [(e["start"], e["end"], e["state"]) for e in events] == [
        (at(10), at(10.25), "fault"), (at(11), at(11.25), "fault"), (at(20), at(40), "fault")]
    assert events[2]["reason_code"] == "jam" and events[2]["automatic"]
    assert events[0]["reason_code"] is None


def test_split_keeps_the_original_and_the_reason(stops: psycopg.Connection) -> None:
    jam = downtime.list_events(stops, "line1", at(20), at(21))[0]
    first, second = downtime.split_event(stops, jam["id"], at(30), by="erin", why="jam, then waiting for bottles")
    assert (first["start"], first["end"], second["start"], second["end"]) == (at(20), at(30), at(30), at(40))
    assert first["reason_code"] == second["reason_code"] == "jam"
    downtime.assign_reason(stops, second["id"], "material", by="erin", why="no bottles")
    original = stops.execute(
        "SELECT superseded_by FROM downtime_events WHERE id = %s", (jam["id"],)).fetchone()[0]
    correction = stops.execute("SELECT kind, by_user, why FROM downtime_corrections WHERE id = %s",
                               (original,)).fetchone()
    assert correction == ("split", "erin", "jam, then waiting for bottles")
    pareto = {row["reason_code"]: row["seconds"] for row in kpi.downtime_pareto(stops, "line1", at(0), at(60))}
    assert pareto["jam"] == pytest.approx(600) and pareto["material"] == pytest.approx(600)


def test_merge_turns_micro_stops_into_one_stop(stops: psycopg.Connection) -> None:
    before = kpi.period_kpi(stops, "line1", at(0), at(60))
    assert before["minor_stops"] == 2
    micro = downtime.list_events(stops, "line1", at(10), at(12))
    merged = downtime.merge_events(stops, [e["id"] for e in micro], by="erin", why="one jam", reason_code="jam")
    assert (merged["start"], merged["end"], merged["reason_code"]) == (at(10), at(11.25), "jam")
    after = kpi.period_kpi(stops, "line1", at(0), at(60))
    assert after["minor_stops"] == 0
    # The two 15 s stops leave APT (no longer minor); the running minutes between them stay in APT.
    assert after["apt"] == pytest.approx(before["apt"] - 2 * 15)
    assert after["adet"] == pytest.approx(before["adet"] + 2 * 15)


def test_corrections_are_refused_with_a_reason(stops: psycopg.Connection) -> None:
    jam = downtime.list_events(stops, "line1", at(20), at(21))[0]
    with pytest.raises(InvalidInput) as err:
        downtime.split_event(stops, jam["id"], at(50), by="erin", why="x")
    assert err.value.field == "at"
    with pytest.raises(InvalidInput):
        downtime.assign_reason(stops, jam["id"], "no-such-reason", by="erin")
    with pytest.raises(InvalidInput):
        downtime.merge_events(stops, [jam["id"]], by="erin", why="x")


def test_an_open_stop_cannot_be_split(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=at(-60))
    writer = SampleWriter(db)
    state_series(writer, [(at(0), at(5), RUNNING), (at(5), at(9), FAULT)])
    writer.flush()
    derive.run_once(db, plant(), now=at(9))
    event = downtime.list_events(db, "line1", at(0), at(9))[-1]
    with pytest.raises(Conflict):
        downtime.split_event(db, event["id"], at(6), by="erin", why="too early")


def test_undo_takes_back_ones_own_latest_assignment_within_a_minute(stops: psycopg.Connection) -> None:
    jam, other = downtime.list_events(stops, "line1", at(20), at(21))[0], downtime.list_events(stops, "line1", at(10),
                                                                                             at(10.1))[0]
    made = downtime.assign_reason(stops, jam["id"], "material", by="erin")
    assert downtime.undo_assignment(stops, made["assignment_id"], by="erin")["reason_code"] == "jam"
    first = downtime.assign_reason(stops, other["id"], "material", by="erin")
    assert downtime.undo_assignment(stops, first["assignment_id"], by="erin")["reason_code"] is None
    mine = downtime.assign_reason(stops, jam["id"], "material", by="erin")
    with pytest.raises(Conflict):
        downtime.undo_assignment(stops, mine["assignment_id"], by="fred")  # not his
    later = mine["assigned_at"] + downtime.UNDO_WINDOW + timedelta(seconds=1)
    with pytest.raises(Conflict):
        downtime.undo_assignment(stops, mine["assignment_id"], by="erin", now=later)
    downtime.assign_reason(stops, jam["id"], "jam", by="erin")
    with pytest.raises(Conflict):
        downtime.undo_assignment(stops, mine["assignment_id"], by="erin")  # no longer the latest
