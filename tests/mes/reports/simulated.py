"""A simulated early shift for the report tests: the brewery simulator stepped on its own clock
(no servers), its filler written into ``samples`` as a collector would (each change, a heartbeat
every minute), orders started and completed when the simulator changes them, derived."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import psycopg
import yaml

from collectors.config import parse_plant
from collectors.config.models import Plant
from mes.production import derive, downtime, orders
from tests.mes.production.scenario import SampleWriter, local

DAY = "2026-03-04"
SHIFT_START, SHIFT_END = local(DAY, "06:00"), local(DAY, "14:00")
SEED = 5
STEP = timedelta(seconds=10)
HEARTBEAT = timedelta(seconds=60)
POINTS = {"state": "State", "fault": "FaultCode", "good": "GoodCount", "reject": "RejectCount"}


def plant(endpoint: str = "opc.tcp://127.0.0.1:4840") -> Plant:
    """The demo plant's line with the filler's tags bound to the line (no work cells), its OPC UA
    server at ``endpoint``."""
    from mes.demo_plant import demo_plant

    doc = yaml.safe_load(demo_plant(endpoint).model_dump_json(exclude_none=True))
    line = doc["areas"][0]["lines"][0]
    line["equipment"] = []
    line.pop("constraint", None)  # its machines are left out too
    bindings = line["bindings"]
    bindings.pop("order_number", None)
    doc["tags"] = [tag for tag in doc["tags"] if tag["name"].startswith("filler_") or tag["name"] == "energy"]
    return parse_plant(yaml.safe_dump(doc), source="report test plant")


async def _run(conn: psycopg.Connection, until: datetime) -> list[tuple[datetime, str]]:
    from simulator import Simulator, SimulatorOptions

    sim = Simulator(SimulatorOptions(scenario="brewery", seed=SEED, speed=0, start=SHIFT_START, modbus_port=None,
                                     opcua_port=None, order_minutes=200))  # fmt: skip
    brewery = sim.models["brewery"]
    writer = SampleWriter(conn)
    names = {f"filler_{key}": f"Packaging.Line1.Filler.{point}" for key, point in POINTS.items()}
    names["energy"] = "Packaging.Line1.EnergyMeter.Energy"
    last: dict[str, tuple[float, datetime]] = {}
    changes = [(sim.now, brewery.product.id)]
    while sim.now < until:
        for tag, point in names.items():
            value = float(sim.point(point).value)
            seen = last.get(tag)
            if seen is None or seen[0] != value or sim.now - seen[1] >= HEARTBEAT:
                writer.add(tag, sim.now, value)
                last[tag] = (value, sim.now)
        if brewery.product.id != changes[-1][1]:
            changes.append((sim.now, brewery.product.id))
        await sim.advance(STEP.total_seconds())
    writer.flush()
    return changes


def simulate_shift(conn: psycopg.Connection) -> Plant:
    """Write and derive the early shift of ``DAY``; orders follow the simulator's products.
    Returns the plant."""
    p = plant()
    derive.run_once(conn, p, now=SHIFT_START - timedelta(hours=1))
    changes = asyncio.run(_run(conn, SHIFT_END + timedelta(minutes=5)))
    previous = None
    for index, (at, product) in enumerate(changes):
        order = orders.create_order(conn, f"W-{index + 1}", "line1", product, 100_000, by="planner")
        if previous is not None:
            orders.transition(conn, previous, "completed", "anna", at=at)
        orders.transition(conn, order["id"], "running", "anna", at=at)
        previous = order["id"]
    report = derive.run_once(conn, p, now=SHIFT_END + timedelta(minutes=5))
    assert report.errors == []
    stops = downtime.list_events(conn, "line1", SHIFT_START, SHIFT_END, kind="stop")
    longest = max(stops, key=lambda e: e["seconds"])
    downtime.assign_reason(conn, longest["id"], "mechanical", "anna", "Gripper bent, replaced 更换夹爪")
    return p
