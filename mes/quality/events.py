"""Quality events: one append-only stream the alarm system picks up.

SPC rule violations, process excursions, nonconformances and overdue
inspections each add a row to ``quality_events`` (once per source record and
rule) and a ``NOTIFY quality_events`` with the new id, so an alarm engine can
either poll by id or LISTEN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mes.quality.db import rows

SEVERITY = {"spc_violation": "medium", "excursion": "high", "nonconformance": "medium", "inspection_overdue": "low"}


def record_event(
    conn: psycopg.Connection,
    kind: str,
    message: str,
    *,
    time: datetime | None = None,
    line_id: str | None = None,
    work_order_id: int | None = None,
    source_id: int | None = None,
    rule: str | None = None,
    severity: str | None = None,
    details: dict[str, Any] | None = None,
) -> int | None:
    """Add an event; returns its id, or None when this source and rule already had one."""
    found = rows(
        conn,
        """
        INSERT INTO quality_events (time, kind, severity, line_id, work_order_id, source_id, rule, message, details)
        VALUES (coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (kind, source_id, coalesce(rule, '')) WHERE source_id IS NOT NULL DO NOTHING
        RETURNING id
        """,
        (time, kind, severity or SEVERITY[kind], line_id, work_order_id, source_id, rule, message,
         Jsonb(details or {})),
    )  # fmt: skip
    return found[0]["id"] if found else None


def events_since(conn: psycopg.Connection, after_id: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """Events with an id above ``after_id``, oldest first: what a poller has not seen yet."""
    return rows(conn, "SELECT * FROM quality_events WHERE id > %s ORDER BY id LIMIT %s", (after_id, limit))
