"""The variance watch: after a download, a value changed at the device (its HMI, a technician) shows.

For each line's newest finished download, every parameter that was written is
compared with the tag's newest stored sample taken after the download finished.
A value that differs by more than the tag's tolerance opens a variance event
(``setpoint_variances``: expected, actual, when) and raises an alarm on the
point (rule ``setpoint_variance``, the tag) through the alarm store of
``mes/alarms`` (ISA-18.2 states: acknowledged, shelved, ... like any other); both
clear when the device holds the downloaded value again, or when a newer download
replaces the old one. The line page lists the open ones.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from collectors.config.alarms import AlarmRule
from mes.alarms import store as alarms
from mes.db import rows

ALARM_RULE = "setpoint_variance"

_LATEST_AFTER_DOWNLOADS = """
WITH last AS (
    SELECT DISTINCT ON (o.line_id) d.id, d.finished_at, d.parameters
    FROM recipe_downloads d JOIN work_orders o ON o.id = d.order_id
    WHERE d.finished_at IS NOT NULL AND d.result IN ('complete', 'partial')
      AND (%(lines)s::text[] IS NULL OR o.line_id = ANY(%(lines)s))
    ORDER BY o.line_id, d.id DESC
), written AS (
    SELECT last.id AS download_id, last.finished_at, p->>'equipment_id' AS equipment_id, p->>'tag' AS tag,
           (p->>'value')::double precision AS expected
    FROM last CROSS JOIN LATERAL jsonb_array_elements(last.parameters) p
    WHERE p->>'result' = 'written'
)
SELECT w.download_id, w.equipment_id, w.tag, w.expected, s.value AS actual, s.time AS sample_time,
       coalesce(st.tolerance, greatest(1e-6 * abs(w.expected), 1e-9)) AS tolerance
FROM written w
JOIN tags t ON t.name = w.tag
LEFT JOIN setpoint_tags st ON st.tag = w.tag
CROSS JOIN LATERAL (
    SELECT value, time FROM samples WHERE tag_id = t.id AND time > w.finished_at ORDER BY time DESC LIMIT 1
) s
"""


def watch_once(conn: psycopg.Connection, lines: list[str] | None = None) -> list[dict[str, Any]]:
    """Open a variance for every downloaded value the device no longer holds, clear the ones it holds
    again or that a newer download replaced; returns the variances opened now."""
    opened: list[dict[str, Any]] = []
    with conn.transaction():
        readings = rows(conn, _LATEST_AFTER_DOWNLOADS, {"lines": lines})
        current = {row["download_id"] for row in readings}
        replaced = conn.execute(
            "UPDATE setpoint_variances SET cleared_at = now() WHERE cleared_at IS NULL "
            "AND NOT (download_id = ANY(%s)) AND download_id IN (SELECT d.id FROM recipe_downloads d "
            "JOIN work_orders o ON o.id = d.order_id WHERE %s::text[] IS NULL OR o.line_id = ANY(%s)) "
            "RETURNING tag, expected", (list(current), lines, lines)).fetchall()  # fmt: skip
        for tag, expected in replaced:
            _alarm(conn, "cleared", tag, expected, None)
        for row in readings:
            differs = row["actual"] is None or abs(row["actual"] - row["expected"]) > row["tolerance"]
            if differs:
                found = conn.execute(
                    "INSERT INTO setpoint_variances (download_id, equipment_id, tag, expected, actual, sample_time) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
                    (row["download_id"], row["equipment_id"], row["tag"], row["expected"], row["actual"],
                     row["sample_time"]),
                ).fetchone()  # fmt: skip
                if found is not None:
                    opened.append({**row, "id": found[0]})
                    _alarm(conn, "raised", row["tag"], row["expected"], row["actual"])
                else:  # still different: keep the newest reading on the open event
                    conn.execute("UPDATE setpoint_variances SET actual = %s, sample_time = %s WHERE download_id = %s "
                                 "AND tag = %s AND cleared_at IS NULL",
                                 (row["actual"], row["sample_time"], row["download_id"], row["tag"]))  # fmt: skip
            else:
                back = conn.execute("UPDATE setpoint_variances SET cleared_at = now() WHERE download_id = %s "
                                    "AND tag = %s AND cleared_at IS NULL RETURNING id",
                                    (row["download_id"], row["tag"])).fetchone()  # fmt: skip
                if back is not None:
                    _alarm(conn, "cleared", row["tag"], row["expected"], row["actual"])
    return opened


def _alarm(conn: psycopg.Connection, kind: str, tag: str, expected: float, actual: float | None) -> None:
    """Raise or clear the variance alarm of ``tag`` (its point is created on first use)."""
    rule = AlarmRule(name=ALARM_RULE, tag=tag, kind="digital", state=True, priority="medium", suppress_in=[],
                     role="supervisor", message=f"setpoint changed at the machine: downloaded {expected:g}")
    alarms.record_signal(conn, rule, kind, datetime.now(UTC), actual)  # type: ignore[arg-type]


def open_variances(conn: psycopg.Connection, line_id: str) -> list[dict[str, Any]]:
    """The line's open variances, newest first, with the order they belong to."""
    return rows(
        conn,
        "SELECT v.id, v.equipment_id, v.tag, v.expected, v.actual, v.detected_at, v.sample_time, "
        "o.number AS order_number FROM setpoint_variances v JOIN recipe_downloads d ON d.id = v.download_id "
        "JOIN work_orders o ON o.id = d.order_id WHERE o.line_id = %s AND v.cleared_at IS NULL "
        "ORDER BY v.detected_at DESC",
        (line_id,),
    )


def variance_history(conn: psycopg.Connection, since: datetime, line_id: str | None = None) -> list[dict[str, Any]]:
    """Every variance detected since ``since`` (open and cleared), newest first."""
    return rows(
        conn,
        "SELECT v.*, o.number AS order_number, o.line_id FROM setpoint_variances v "
        "JOIN recipe_downloads d ON d.id = v.download_id JOIN work_orders o ON o.id = d.order_id "
        "WHERE v.detected_at >= %s AND (%s::text IS NULL OR o.line_id = %s) ORDER BY v.detected_at DESC",
        (since, line_id, line_id),
    )
