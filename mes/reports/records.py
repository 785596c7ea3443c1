"""What people recorded in a report's window that no KPI function returns: inspections,
nonconformances, the comments given to stops, handover notes and the report's sign-off.
Plain reads of the owners' tables; every number of production, OEE, downtime and energy
comes from the KPI functions (see :mod:`mes.reports.content`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import first, rows

Row = dict[str, Any]


def inspections(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[Row]:
    """Inspection records of the line in [start, end), with their spec and the values out of its limits."""
    return rows(
        conn,
        """
        SELECT r.id, r.time, r.inspector, r.sample_size, r.nonconforming, r.passed, r.note,
               s.characteristic, s.lsl, s.usl, w.number AS work_order,
               (SELECT count(*) FROM unnest(r.measurements) m
                WHERE (s.lsl IS NOT NULL AND m < s.lsl) OR (s.usl IS NOT NULL AND m > s.usl))::int AS out_of_limit
        FROM inspection_records r JOIN quality_specs s ON s.id = r.spec_id
        LEFT JOIN work_orders w ON w.id = r.work_order_id
        WHERE r.line_id = %s AND r.time >= %s AND r.time < %s ORDER BY r.time
        """,
        (line_id, start, end),
    )


def nonconformances(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[Row]:
    """Nonconformances raised on the line in [start, end)."""
    return rows(
        conn,
        """
        SELECT n.id, n.time, n.description, n.quantity, n.status, n.source, n.defect_code, n.reported_by,
               w.number AS work_order
        FROM nonconformances n LEFT JOIN work_orders w ON w.id = n.work_order_id
        WHERE n.line_id = %s AND n.time >= %s AND n.time < %s ORDER BY n.time
        """,
        (line_id, start, end),
    )


def stop_comments(conn: psycopg.Connection, event_ids: list[int]) -> dict[int, str]:
    """The comment (``why``) of each event's current reason assignment, where one was given."""
    found = rows(
        conn,
        "SELECT DISTINCT ON (event_id) event_id, why FROM downtime_assignments WHERE event_id = ANY(%s) "
        "ORDER BY event_id, id DESC",
        (event_ids,),
    )
    return {row["event_id"]: row["why"] for row in found if row["why"]}


def handover_notes(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[Row]:
    """Notes written in [start, end), oldest first."""
    return rows(
        conn,
        "SELECT id, written_at, written_by, note, open_item, closed_at, closed_by FROM shift_handover_notes "
        "WHERE line_id = %s AND written_at >= %s AND written_at < %s ORDER BY written_at",
        (line_id, start, end),
    )


def open_items(conn: psycopg.Connection, line_id: str, at: datetime) -> list[Row]:
    """Items open at ``at``: written before it, not closed by then (handed to the next shift)."""
    return rows(
        conn,
        "SELECT id, written_at, written_by, note FROM shift_handover_notes WHERE line_id = %s AND open_item "
        "AND written_at < %s AND (closed_at IS NULL OR closed_at >= %s) ORDER BY written_at",
        (line_id, at, at),
    )


def sign_off(conn: psycopg.Connection, key: str) -> Row | None:
    """Who signed the period off, and when (``report_sign_offs``), if anyone did."""
    return first(conn, "SELECT signed_by, signed_at, note FROM report_sign_offs WHERE period_key = %s", (key,))


def add_sign_off(conn: psycopg.Connection, key: str, line_id: str, by: str, note: str,
                 at: datetime | None) -> Row:
    """Record the sign-off of the period ``key``."""
    row = first(conn, "INSERT INTO report_sign_offs (period_key, line_id, signed_by, signed_at, note) "
                      "VALUES (%s, %s, %s, coalesce(%s, now()), %s) RETURNING signed_by, signed_at, note",
                (key, line_id, by, at, note))  # fmt: skip
    assert row is not None
    return row


def lines_with_bindings(conn: psycopg.Connection) -> list[Row]:
    """Active lines with their state tag and the kinds of counter they bind (``energy`` only: a
    utility meter), by id."""
    return rows(
        conn,
        "SELECT e.id, e.name, e.parent_id, e.state_tag, coalesce(array_agg(DISTINCT b.kind ORDER BY b.kind) "
        "FILTER (WHERE b.kind IS NOT NULL), '{}') AS kinds FROM equipment e "
        "LEFT JOIN counter_bindings b ON b.equipment_id = e.id WHERE e.active AND e.level = 'line' "
        "GROUP BY e.id ORDER BY e.id",
    )
