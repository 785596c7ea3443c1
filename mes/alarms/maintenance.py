"""Maintenance work orders and reliability per asset: orders opened from "maintenance due" (or by hand),
closed with the repair; MTBF and MTTR from failures (failed-asset orders and the fault stops of the
asset's equipment, overlapping ones counted once)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, NotFound

KINDS = ("predictive", "breakdown", "preventive")


def open_order(conn: psycopg.Connection, asset: str, kind: str, reason: str, user: str, at: datetime,
               occurrence_id: int | None = None, forecast_d_at: datetime | None = None) -> dict[str, Any]:
    """Open a work order for ``asset``; from an alarm at most once (the alarm's order is returned again)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not reason.strip():
        raise InvalidInput("say what the order is for", field="reason")
    if occurrence_id is not None:
        existing = first(conn, "SELECT * FROM maintenance_orders WHERE occurrence_id = %s", (occurrence_id,))
        if existing is not None:
            return existing
    order = first(conn, "INSERT INTO maintenance_orders (asset, kind, occurrence_id, reason, forecast_d_at, "
                        "opened_at, opened_by) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
                  (asset, kind, occurrence_id, reason.strip(), forecast_d_at, at, user))  # fmt: skip
    assert order is not None
    return order


def close_order(conn: psycopg.Connection, order_id: int, user: str, at: datetime, repair: str,
                started_at: datetime | None = None, failure: bool = False) -> dict[str, Any]:
    """Close an order with the repair done (``started_at``: when the repair began, default the opening)."""
    if not repair.strip():
        raise InvalidInput("closing an order needs the repair done", field="repair")
    order = first(conn, "SELECT * FROM maintenance_orders WHERE id = %s FOR UPDATE", (order_id,))
    if order is None:
        raise NotFound(f"maintenance order {order_id}: no such order", field="order_id")
    if order["closed_at"] is not None:
        raise Conflict("the order is closed already")
    started = started_at or order["opened_at"]
    if started > at:
        raise InvalidInput("the repair cannot start after it ended", field="started_at")
    closed = first(conn, "UPDATE maintenance_orders SET started_at = %s, closed_at = %s, closed_by = %s, "
                         "repair = %s, failure = %s WHERE id = %s RETURNING *",
                   (started, at, user, repair.strip(), failure, order_id))  # fmt: skip
    assert closed is not None
    return closed


def orders(conn: psycopg.Connection, asset: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM maintenance_orders WHERE (%(asset)s::text IS NULL OR asset = %(asset)s) "
                      "AND (NOT %(open)s OR closed_at IS NULL) ORDER BY opened_at DESC, id DESC",
                {"asset": asset, "open": open_only})  # fmt: skip


@dataclass(frozen=True)
class Reliability:
    asset: str
    period_hours: float
    failures: int
    downtime_hours: float
    mtbf_hours: float | None  # None: no failure in the period
    mttr_hours: float | None


def reliability(conn: psycopg.Connection, asset: str, equipment: str | None, since: datetime,
                until: datetime) -> Reliability:
    """MTBF = operating time / failures, MTTR = repair time / repairs, over [since, until)."""
    spans = [(r["start"], r["end"]) for r in rows(conn,
             "SELECT greatest(started_at, %(since)s) AS start, least(closed_at, %(until)s) AS end "
             "FROM maintenance_orders WHERE asset = %(asset)s AND failure AND closed_at > %(since)s "
             "AND started_at < %(until)s "
             "UNION ALL SELECT greatest(lower(period), %(since)s), least(upper(period), %(until)s) "
             "FROM downtime_events WHERE equipment_id = %(equipment)s AND state = 'fault' AND kind = 'stop' "
             "AND superseded_by IS NULL AND period && tstzrange(%(since)s, %(until)s) AND NOT upper_inf(period)",
             {"asset": asset, "equipment": equipment, "since": since, "until": until})]  # fmt: skip
    merged: list[list[datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    down = sum(((end - start) for start, end in merged), timedelta())
    period = until - since
    failures = len(merged)
    hours = 3600.0
    return Reliability(
        asset, period.total_seconds() / hours, failures, down.total_seconds() / hours,
        (period - down).total_seconds() / hours / failures if failures else None,
        down.total_seconds() / hours / failures if failures else None,
    )


def forecasts(conn: psycopg.Connection, asset: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Stored forecasts, newest first."""
    return rows(conn, "SELECT * FROM condition_forecasts WHERE (%(asset)s::text IS NULL OR asset = %(asset)s) "
                      "ORDER BY at DESC, id DESC LIMIT %(limit)s", {"asset": asset, "limit": limit})  # fmt: skip
