"""What a line is doing now: state and since when, running order with progress, the
current shift's counts and OEE. One call for the supervisor's overview."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from mes.production import kpi, orders, shifts, states
from mes.production.equipment import get_unit, list_equipment


def line_status(conn: psycopg.Connection, unit_id: str, now: datetime | None = None) -> dict:
    """Live status of a line or work cell."""
    now = now or datetime.now(UTC)
    unit = get_unit(conn, unit_id)
    line_id = unit["line_id"] or unit["id"]
    running = orders.running_order(conn, line_id)
    shift = shifts.shift_at(conn, line_id, now)
    current = None
    if shift is not None and now > shift["start"]:
        row = kpi.period_kpi(conn, unit_id, shift["start"], now)
        current = {
            "shift": shift["name"], "local_date": shift["local_date"], "start": shift["start"], "end": shift["end"],
            "oee": row["oee"], "availability": row["availability"], "effectiveness": row["effectiveness"],
            "quality_ratio": row["quality_ratio"], "produced": row["pq"], "good": row["gq"], "scrap": row["sq"],
        }  # fmt: skip
    return {
        "id": unit["id"], "name": unit["name"], "level": unit["level"], "line_id": line_id,
        "state": states.current_state(conn, unit_id),
        "running_order": (
            {**running, "progress": orders.order_progress(conn, running["id"], now)} if running else None
        ),
        "current_shift": current,
    }  # fmt: skip


def all_lines(conn: psycopg.Connection, now: datetime | None = None) -> list[dict]:
    """Status of every active line."""
    return [line_status(conn, row["id"], now) for row in list_equipment(conn, "line")]
