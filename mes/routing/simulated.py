"""The simulated garment plant (``simulator.garment``) in the MES: its stations as manual work
centres, its operations as the product's routing, an order cut into its bundles, and its scans fed
through :func:`mes.routing.reports.record_scan` — what the demo and the tests run."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from collectors.config import parse_plant
from collectors.config.models import Plant
from mes.production import orders
from mes.routing import operations, reports, routings
from simulator.garment import GarmentPlant, Scan

GARMENT_PLANT_YAML = """
site: {name: Garment works, timezone: Asia/Shanghai}
areas:
  - id: sewing
    lines:
      - id: sew1
        name: Sewing line 1
        shift_pattern: day
products:
  - {id: shirt, name: Shirt}
shift_patterns:
  - id: day
    shifts:
      - {name: day, start: "08:00", end: "17:00", breaks: [{start: "12:00", minutes: 60}]}
"""
LINE = "sew1"
PRODUCT = "shirt"


def garment_config() -> Plant:
    """The plant config behind the garment simulator: one sewing line on a day shift, one product."""
    return parse_plant(GARMENT_PLANT_YAML)


def other_lines(conn: psycopg.Connection) -> list[str]:
    """Lines of another plant in the database (the simulated plant belongs in a database of its own)."""
    return [row[0] for row in conn.execute("SELECT id FROM equipment WHERE level = 'line' AND id <> %s ORDER BY id",
                                           (LINE,)).fetchall()]  # fmt: skip


def load_order(conn: psycopg.Connection, plant: GarmentPlant, number: str, by: str, due_hours: float = 8.0) -> dict:
    """Work centres and the routing of the simulated plant (a new version when it exists), the order
    of ``plant.quantity`` pieces due ``due_hours`` after the plant's start, cut into its bundles and
    started at the plant's start. Run ``plant.run(number)`` first (it names the tickets)."""
    from datetime import timedelta

    for op in plant.operations:
        routings.save_work_centre(conn, op.station, "manual", LINE, name=op.name)
    routing = routings.create_routing(conn, PRODUCT, [
        routings.OperationSpec(op.seq, op.name, op.station, op.sam_minutes) for op in plant.operations], by=by)
    order = operations.create_routed_order(conn, number, LINE, PRODUCT, plant.quantity, by,
                                           due_at=plant.start + timedelta(hours=due_hours), routing_id=routing["id"])
    operations.cut_bundles(conn, order["id"], plant.quantity, plant.bundle_size, by, at=plant.start)
    orders.transition(conn, order["id"], "running", by, at=plant.start)
    return operations.routed_order(conn, order["id"])


def feed_scans(conn: psycopg.Connection, scans: Iterable[Scan], by: str = "scanner") -> list[dict]:
    """Each scan as the station's scanner sends it: ticket, station, operator, scrap and rework."""
    return [reports.record_scan(conn, scan.bundle, by, operator=scan.operator, work_centre_id=scan.station,
                                scrap=scan.scrap, rework=scan.rework, at=scan.time) for scan in scans]  # fmt: skip
