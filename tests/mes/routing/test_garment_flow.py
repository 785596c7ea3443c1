"""Issue 23's must-show: a simulated order of 1,200 pieces through 12 operations in bundles of 20.
At every moment WIP per operation equals the simulator's truth and in − out − scrap, the final
good quantity equals the simulator's, and a duplicate scan changes nothing."""

from __future__ import annotations

import psycopg
import pytest

from mes.production.sync import sync_plant
from mes.routing import flow, simulated
from simulator.garment import GarmentPlant, garment_operations


@pytest.fixture(scope="module")
def plant() -> GarmentPlant:
    sim = GarmentPlant(quantity=1200, bundle_size=20, operations=garment_operations(sewing=9), seed=3)
    sim.run("G-4711")
    return sim


def test_the_simulated_order_is_what_the_issue_asks_for(plant: GarmentPlant) -> None:
    assert len(plant.operations) == 12 and len(plant.bundles) == 60
    assert {b.quantity for b in plant.bundles} == {20}
    assert any(s.duplicate for s in plant.scans) and plant.breakdowns
    assert len({o.speed for o in plant.operators}) > 6  # operators of different speeds
    assert 1100 < plant.final_good() < 1200  # some scrap on the way


def test_wip_matches_the_truth_at_every_moment_the_final_good_too_and_duplicate_scans_change_nothing(
        db: psycopg.Connection, plant: GarmentPlant) -> None:
    """The scans arrive in time order, duplicates among them (the truth counts each passage once)."""
    sync_plant(db, simulated.garment_config(), now=plant.start)
    order = simulated.load_order(db, plant, "G-4711", by="planner")
    scans = plant.scans
    moments = sorted({*(plant.end() * k / 7 for k in range(1, 7)), plant.breakdowns[0].end - 1})
    fed = 0
    for moment in [*moments, plant.end()]:
        upto = [s for s in scans[fed:] if s.elapsed <= moment]
        simulated.feed_scans(db, upto)
        fed += len(upto)
        flows = flow.operation_flow(db, order["id"], at=plant.at(moment))
        truth = plant.wip(moment)
        assert {f["seq"]: f["wip"] for f in flows} == truth, f"at {moment:.0f} s"
        for f in flows:
            assert f["wip"] == f["quantity_in"] - f["good"] - f["scrap"]
            assert f["good"] == plant.good(f["seq"], moment)
    assert fed == len(scans)
    tracked = flow.tracking(db, order["id"], now=plant.at(plant.end()))
    assert tracked["progress"] == plant.final_good()
    assert all(f["status"] == "completed" and f["wip"] == 0 for f in tracked["operations"])
    assert tracked["flags"] == []
    before = flow.operation_flow(db, order["id"], at=plant.at(plant.end()))
    stored = db.execute("SELECT count(*) FROM operation_reports").fetchone()
    assert stored == (len(plant.passages),)
    again = simulated.feed_scans(db, [s for s in plant.scans if s.duplicate])
    assert again and all(r["duplicate"] for r in again)
    assert db.execute("SELECT count(*) FROM operation_reports").fetchone() == stored
    assert flow.operation_flow(db, order["id"], at=plant.at(plant.end())) == before

