"""Routings, routed orders, scans and operator output, on small hand-made cases."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mes.errors import InvalidInput
from mes.production import orders
from mes.production.sync import sync_plant
from mes.routing import flow, operations, output, reports, routings, simulated, stations
from mes.routing.routings import OperationSpec as Op
from tests.mes.production.scenario import local

T0 = local("2026-03-04", "08:00", "Asia/Shanghai")


@pytest.fixture
def shop(db: psycopg.Connection) -> psycopg.Connection:
    sync_plant(db, simulated.garment_config(), now=T0)
    for centre in ("cut", "body", "sleeve", "join", "pack"):
        routings.save_work_centre(db, centre, "manual", "sew1", name=centre)
    return db


def branching(db: psycopg.Connection) -> dict:
    """Cut → body and sleeves side by side → join → pack."""
    return routings.create_routing(db, "shirt", [
        Op(10, "cut", "cut", 0.5), Op(20, "body", "body", 2.0, after=(10,)),
        Op(30, "sleeves", "sleeve", 1.5, after=(10,)),
        Op(40, "set sleeves", "join", 1.0, after=(20, 30)), Op(50, "pack", "pack", 0.25)], by="planner")


def test_routings_are_versioned_and_checked_naming_the_operation(shop: psycopg.Connection) -> None:
    first = branching(shop)
    second = routings.create_routing(shop, "shirt", [Op(10, "cut", "cut", 0.5), Op(20, "pack", "pack", 0.3)], "planner")
    assert (first["version"], second["version"]) == (1, 2)
    assert [o["after_seqs"] for o in second["operations"]] == [[], [10]]
    assert routings.latest_routing(shop, "shirt")["id"] == second["id"]
    for bad, field in (([Op(10, "cut", "cut", 0.5), Op(20, "x", "nowhere", 1)], "operations[1].work_centre_id"),
                       ([Op(10, "cut", "cut", 0.5), Op(20, "x", "body", 1, after=(30,))], "operations[1].after"),
                       ([Op(10, "cut", "cut", 0.5), Op(20, "a", "body", 1, after=(10,)),
                         Op(30, "b", "body", 1, after=(10,))], "operations"),
                       ([Op(10, "cut", "cut", float("nan"))], "operations[0].sam_minutes")):
        with pytest.raises(InvalidInput) as refused:
            routings.create_routing(shop, "shirt", bad, "planner")
        assert refused.value.field == field


def test_a_routed_order_keeps_its_version_and_single_line_orders_work_as_before(shop: psycopg.Connection) -> None:
    branching(shop)
    order = operations.create_routed_order(shop, "R-1", "sew1", "shirt", 40, "planner")
    routings.create_routing(shop, "shirt", [Op(10, "cut", "cut", 0.5)], "planner")
    again = operations.routed_order(shop, order["id"])
    assert again["routing_version"] == 1 and [o["seq"] for o in again["operations"]] == [10, 20, 30, 40, 50]
    plain = orders.create_order(shop, "P-1", "sew1", "shirt", 10, by="planner")
    assert operations.routed_order(shop, plain["id"])["operations"] == []
    assert orders.transition(shop, plain["id"], "running", "ann", at=T0)["status"] == "running"
    assert orders.order_progress(shop, plain["id"], now=T0 + timedelta(minutes=5))["good"] == 0


def test_branches_join_with_the_fewest_pieces_either_passed_on(shop: psycopg.Connection) -> None:
    branching(shop)
    order = operations.create_routed_order(shop, "R-2", "sew1", "shirt", 40, "planner")
    a, b = operations.cut_bundles(shop, order["id"], 40, 20, "cutter", at=T0)
    assert (a["code"], b["code"]) == ("R-2-001", "R-2-002")
    at = T0 + timedelta(minutes=10)
    reports.record_scan(shop, "R-2-001", "ann", operator="ann", seq=10, at=at)
    reports.record_scan(shop, "R-2-001", "bo", operator="bo", seq=20, scrap=1, at=at)
    state = {f["seq"]: f for f in flow.operation_flow(shop, order["id"], at=at)}
    assert state[40]["quantity_in"] == 0 and state[30]["wip"] == 20  # sleeves not done: nothing to join yet
    reports.record_scan(shop, "R-2-001", "cy", operator="cy", seq=30, scrap=2, at=at)
    state = {f["seq"]: f for f in flow.operation_flow(shop, order["id"], at=at)}
    assert state[40]["quantity_in"] == 18 and state[40]["wip"] == 18
    assert state[10]["wip"] == 20 and state[10]["status"] == "running"  # bundle 2 still waits at cutting
    with pytest.raises(InvalidInput) as refused:
        reports.record_scan(shop, "R-2-001", "dan", seq=40, good=18, scrap=1, at=at)
    assert refused.value.field == "good"  # 19 out of 18 in


def test_an_out_of_sequence_scan_is_kept_and_flagged(shop: psycopg.Connection) -> None:
    routings.create_routing(shop, "shirt", [Op(10, "cut", "cut", 0.5), Op(20, "body", "body", 1),
                                            Op(30, "pack", "pack", 0.2)], "planner")
    order = operations.create_routed_order(shop, "R-3", "sew1", "shirt", 20, "planner")
    operations.cut_bundles(shop, order["id"], 20, 20, "cutter", at=T0)
    at = T0 + timedelta(minutes=5)
    reports.record_scan(shop, "R-3-001", "ann", seq=10, scrap=1, at=at)
    skipped = reports.record_scan(shop, "R-3-001", "cy", work_centre_id="pack", at=at)
    assert skipped["out_of_sequence"] and skipped["quantity_in"] == 19 and skipped["good"] == 19
    tracked = flow.tracking(shop, order["id"], now=at)
    assert tracked["flags"] == ["out_of_sequence_scans"]
    assert {f["seq"]: f["wip"] for f in tracked["operations"]} == {10: 0, 20: 19, 30: 0}
    late = reports.record_scan(shop, "R-3-001", "bo", seq=20, at=at + timedelta(minutes=1))
    assert not late["out_of_sequence"]
    assert reports.record_scan(shop, "R-3-001", "cy", work_centre_id="pack", at=at)["duplicate"]


def test_projected_finish_bottleneck_and_late_risk_follow_the_recent_rate(shop: psycopg.Connection) -> None:
    routings.create_routing(shop, "shirt", [Op(10, "cut", "cut", 0.5), Op(20, "body", "body", 1)], "planner")
    order = operations.create_routed_order(shop, "R-4", "sew1", "shirt", 100, "planner",
                                           due_at=T0 + timedelta(hours=3))
    operations.cut_bundles(shop, order["id"], 100, 10, "cutter", at=T0)
    for n in range(1, 11):  # cutting: a bundle every 3 minutes (200 pieces/h), all done in 30 min
        reports.record_scan(shop, f"R-4-{n:03d}", "ann", seq=10, at=T0 + timedelta(minutes=3 * n))
    for n in range(1, 4):  # body: a bundle every 10 minutes (60 pieces/h)
        reports.record_scan(shop, f"R-4-{n:03d}", "bo", seq=20, at=T0 + timedelta(minutes=10 * n))
    now = T0 + timedelta(minutes=30)
    tracked = flow.tracking(shop, order["id"], now=now)
    cut, body = tracked["operations"]
    assert cut["status"] == "completed" and cut["projected_finish"] == T0 + timedelta(minutes=30)
    assert body["rate_per_hour"] == pytest.approx(60.0)  # 20 pieces in the 20 minutes since its first scan
    assert body["projected_finish"] == now + timedelta(hours=70 / 60)
    assert tracked["bottleneck"]["seq"] == 20 and tracked["progress"] == 30
    assert tracked["late_risk"] == "on_time"  # 1 h 40 min of slack before the due time 3 h after the start
    shop.execute("UPDATE work_orders SET due_at = %s WHERE id = %s", (T0 + timedelta(minutes=90), order["id"]))
    assert flow.tracking(shop, order["id"], now=now)["late_risk"] == "late"


def test_operator_efficiency_for_a_shift_equals_the_hand_computed_value(shop: psycopg.Connection) -> None:
    """Ann attends 08:00–17:00 on the day shift with its 12:00–13:00 break: 480 attended minutes.
    She sews body parts of 3 bundles of 20 (one piece scrapped) at SAM 2.0 and sleeves of 2 bundles
    at SAM 1.5: (19 + 20 + 20) × 2.0 + 40 × 1.5 = 118 + 60 = 178 earned minutes → 178 / 480 = 37.08%.
    Bo has no attendance record: his shift (480 min) is assumed and flagged."""
    branching(shop)
    order = operations.create_routed_order(shop, "R-5", "sew1", "shirt", 60, "planner")
    operations.cut_bundles(shop, order["id"], 60, 20, "cutter", at=T0)
    output.record_attendance(shop, "ann", "sew1", local("2026-03-04", "07:55", "Asia/Shanghai"),
                             local("2026-03-04", "17:00", "Asia/Shanghai"), "supervisor")
    at = T0 + timedelta(hours=1)
    for n in (1, 2, 3):
        reports.record_scan(shop, f"R-5-{n:03d}", "bo", operator="bo", seq=10, at=at)
        reports.record_scan(shop, f"R-5-{n:03d}", "ann", operator="ann", seq=20, scrap=1 if n == 1 else 0, at=at)
    for n in (1, 2):
        reports.record_scan(shop, f"R-5-{n:03d}", "ann", operator="ann", seq=30, at=at + timedelta(hours=5))
    day = (T0 - timedelta(hours=1), T0 + timedelta(hours=12))
    rows = {r["operator"]: r for r in output.operator_output(shop, *day, now=T0 + timedelta(hours=12))}
    ann, bo = rows["ann"], rows["bo"]
    assert (ann["good"], ann["scrap"], ann["earned_minutes"]) == (99, 1, 178.0)
    assert ann["attended_minutes"] == 480.0 and ann["attendance"] == "recorded"
    assert ann["efficiency"] == pytest.approx(178 / 480)
    assert (bo["earned_minutes"], bo["attended_minutes"], bo["attendance"]) == (30.0, 480.0, "assumed")
    detail = output.output_detail(shop, *day)
    assert [(d["operator"], d["seq"], d["good"]) for d in detail if d["operator"] == "ann"] == [
        ("ann", 20, 59), ("ann", 30, 40)]
    reports.record_scan(shop, "R-5-003", "ann", operator="ann", seq=30, at=T0 - timedelta(minutes=30))  # 07:30
    night, *_ = output.operator_output(shop, *day, now=T0 + timedelta(hours=12))
    assert (night["operator"], night["good"], night["attendance"], night["efficiency"]) == ("ann", 20, "outside_shift",
                                                                                           None)
    running = {r["operator"]: r for r in output.operator_output(shop, *day, now=T0 + timedelta(hours=2))}
    assert running["bo"]["attended_minutes"] == 120  # a shift still running counts up to now


def test_a_manual_station_gets_its_time_model_from_scans_and_the_calendar(shop: psycopg.Connection) -> None:
    """The day shift 08:00–17:00 less its hour of break: PBT = 8 h. The body station passes 59 good
    pieces (one scrapped) at SAM 2.0: 118 standard minutes, OEE = PRU × GQ / PBT = 118 / 480."""
    branching(shop)
    order = operations.create_routed_order(shop, "R-6", "sew1", "shirt", 60, "planner")
    operations.cut_bundles(shop, order["id"], 60, 20, "cutter", at=T0)
    for n in (1, 2, 3):
        reports.record_scan(shop, f"R-6-{n:03d}", "bo", seq=10, at=T0 + timedelta(hours=1))
        reports.record_scan(shop, f"R-6-{n:03d}", "ann", seq=20, scrap=1 if n == 1 else 0,
                            at=T0 + timedelta(hours=2))
    day = (T0 - timedelta(hours=2), T0 + timedelta(hours=14))
    body = stations.station_kpi(shop, "body", *day)
    assert (body["pot"], body["pdt"], body["pbt"]) == (9 * 3600, 3600, 8 * 3600)
    assert (body["pq"], body["gq"], body["sq"]) == (60, 59, 1)
    assert body["oee"] == pytest.approx(118 / 480) and body["quality_ratio"] == pytest.approx(59 / 60)
    assert "availability" in body["not_measured"] and body["machine_kpi"] is None
    routings.save_work_centre(shop, "line-centre", "line", "sew1", equipment_id="sew1")
    machine = stations.station_kpi(shop, "line-centre", *day)["machine_kpi"]
    assert machine is not None and machine["pbt"] == 8 * 3600  # the line's own ISO 22400 row, as before
