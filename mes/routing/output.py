"""Operator output per shift, for supervisors and piece-rate payroll (计件工资).

An operator earns the operation's SAM for every good piece they report (scrap earns nothing).
Efficiency = earned standard minutes ÷ attended minutes, where attended minutes are the operator's
recorded attendance inside the shift, less the line's planned downtime in it (breaks, meetings).
Without an attendance record for the shift the whole shift (up to now, while it runs) less its
planned downtime is assumed, and the row says so (``attendance`` = ``assumed``) so nobody pays from
a guess unknowingly. A report counts in the shift of its work centre's line that holds its time;
pieces reported outside every shift are a row of their own (``outside_shift``), never dropped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from mes.db import rows, scalar
from mes.errors import Conflict, InvalidInput

Interval = tuple[datetime, datetime]


def record_attendance(conn: psycopg.Connection, operator: str, line_id: str, start: datetime, end: datetime,
                      by: str) -> dict:  # fmt: skip
    """The operator was at work on ``line_id`` from ``start`` to ``end`` (clock-in to clock-out)."""
    if not operator.strip():
        raise InvalidInput("name the operator", field="operator")
    if end <= start:
        raise InvalidInput("attendance ends after it starts", field="end")
    try:
        with conn.transaction():
            found = rows(conn, "INSERT INTO operator_attendance (operator, line_id, period, by_user) "
                               "VALUES (%s, %s, tstzrange(%s, %s), %s) RETURNING id, operator, line_id, "
                               "lower(period) AS start, upper(period) AS end",
                         (operator.strip(), line_id, start, end, by))  # fmt: skip
    except psycopg.errors.ExclusionViolation as exc:
        raise Conflict(f"{operator} has attendance in that time already", field="start") from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise InvalidInput(f"no line {line_id!r}", field="line_id") from exc
    return found[0]


EARNED = """
SELECT r.operator, s.id AS shift_id, c.line_id, s.name AS shift, s.local_date, lower(s.period) AS shift_start,
       upper(s.period) AS shift_end, w.number AS order_number, o.seq, o.name AS operation, o.sam_minutes,
       sum(r.good) AS good, sum(r.scrap) AS scrap, sum(r.rework) AS rework,
       sum(r.good) * o.sam_minutes AS earned_minutes
FROM operation_reports r
JOIN operation_orders o ON o.id = r.operation_id
JOIN work_orders w ON w.id = o.order_id
JOIN work_centres c ON c.id = o.work_centre_id
LEFT JOIN shift_instances s ON s.line_id = c.line_id AND s.period @> r.at
WHERE r.operator IS NOT NULL AND r.at >= %(start)s AND r.at < %(end)s
  AND (%(line)s::text IS NULL OR c.line_id = %(line)s)
GROUP BY r.operator, s.id, c.line_id, w.number, o.seq, o.name, o.sam_minutes
ORDER BY lower(s.period) NULLS FIRST, r.operator, w.number, o.seq
"""


def output_detail(conn: psycopg.Connection, start: datetime, end: datetime, line_id: str | None = None) -> list[dict]:
    """Per operator, shift, order and operation: good pieces, scrap, rework, SAM and earned minutes
    (what a piece-rate payroll multiplies by its rates)."""
    return rows(conn, EARNED, {"start": start, "end": end, "line": line_id})


def operator_output(conn: psycopg.Connection, start: datetime, end: datetime, line_id: str | None = None,
                    now: datetime | None = None) -> list[dict]:  # fmt: skip
    """Per operator and shift (reports in [start, end)): pieces, scrap, earned standard minutes,
    attended minutes and efficiency. Pieces reported outside every shift form their own row
    (``attendance`` = ``outside_shift``, no efficiency); a shift still running counts up to ``now``."""
    now = now or datetime.now(UTC)
    detail = output_detail(conn, start, end, line_id)
    summary: dict[tuple[str, int | None], dict] = {}
    for row in detail:
        key = (row["operator"], row["shift_id"])
        if key not in summary:
            summary[key] = {k: row[k] for k in ("operator", "line_id", "shift", "local_date", "shift_start",
                                                "shift_end")} | {"good": 0.0, "scrap": 0.0, "earned_minutes": 0.0}
        for name in ("good", "scrap", "earned_minutes"):
            summary[key][name] += row[name]
    for (operator, shift), row in summary.items():
        if shift is None:
            row.update(attended_minutes=None, attendance="outside_shift", efficiency=None)
            continue
        attended, recorded = _attended_minutes(conn, operator, row["line_id"], row["shift_start"],
                                               min(row["shift_end"], max(now, row["shift_start"])))  # fmt: skip
        row["attended_minutes"] = attended
        row["attendance"] = "recorded" if recorded else "assumed"
        row["efficiency"] = row["earned_minutes"] / attended if attended > 0 else None
    return list(summary.values())


def _attended_minutes(conn: psycopg.Connection, operator: str, line_id: str, start: datetime,
                      end: datetime) -> tuple[float, bool]:  # fmt: skip
    """Minutes the operator attended inside the shift less its planned downtime, and whether that
    came from attendance records (else: the whole shift)."""
    present = [(r["start"], r["end"]) for r in rows(
        conn, "SELECT greatest(lower(period), %(start)s) AS start, least(upper(period), %(end)s) AS end "
              "FROM operator_attendance WHERE operator = %(op)s AND period && tstzrange(%(start)s, %(end)s)",
        {"op": operator, "start": start, "end": end})]  # fmt: skip
    recorded = bool(present)
    present = present or [(start, end)]
    planned = [(r["start"], r["end"]) for r in rows(
        conn, "SELECT greatest(lower(period), %(start)s) AS start, least(upper(period), %(end)s) AS end "
              "FROM planned_downtime WHERE line_id = %(line)s AND period && tstzrange(%(start)s, %(end)s)",
        {"line": line_id, "start": start, "end": end})]  # fmt: skip
    seconds = sum((b - a).total_seconds() for a, b in present)
    seconds -= sum(_overlap(p, d) for p in present for d in _merged(planned))
    return seconds / 60, recorded


def _overlap(a: Interval, b: Interval) -> float:
    return max((min(a[1], b[1]) - max(a[0], b[0])).total_seconds(), 0.0)


def _merged(intervals: list[Interval]) -> list[Interval]:
    """Overlapping planned downtime counted once."""
    merged: list[Interval] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def plant_day(conn: psycopg.Connection, day: date | None, now: datetime,
              line_id: str | None = None) -> tuple[date, datetime, datetime]:  # fmt: skip
    """The plant-local day (default: the one ``now`` is in) with its start and end, in the time zone
    of ``line_id`` or else of the first line (the plant's)."""
    zone = ZoneInfo(scalar(conn, "SELECT timezone FROM equipment WHERE level = 'line' "
                                 "AND (%(line)s::text IS NULL OR id = %(line)s) ORDER BY id LIMIT 1",
                           {"line": line_id}) or "UTC")  # fmt: skip
    chosen = day or now.astimezone(zone).date()
    start = datetime.combine(chosen, time(0), tzinfo=zone)
    return chosen, start, datetime.combine(chosen + timedelta(days=1), time(0), tzinfo=zone)
