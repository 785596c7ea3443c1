"""The shift calendar: shift instances and planned downtime per line, in UTC, built
from the line's pattern in the plant's time zone.

POT is the union of a line's shift instances; planned downtime (pattern breaks,
maintenance, meetings) inside them is subtracted to give PBT. Instances are
materialised so the calendar in force at the time stays the record: a changed
pattern rebuilds only the future. Holidays remove the shifts that start on that
local day; per-line overrides add an extra shift or planned downtime. A line with
no pattern runs around the clock (one 24 h "day" shift per local day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from collectors.config.models import ALL_DAYS, Plant, ShiftDefinition, ShiftPattern
from mes.db import first, rows
from mes.errors import Conflict, InvalidInput

ROUND_THE_CLOCK = ShiftPattern.model_validate(
    {"id": "round-the-clock", "shifts": [{"name": "day", "start": "00:00", "end": "00:00"}]}
)


def _local(day: date, clock, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def shift_period(day: date, shift: ShiftDefinition, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of ``shift`` starting on local ``day``; an end at or before the start
    is on the next day (so 22:00-06:00 is a night shift and 00:00-00:00 is 24 h)."""
    end_day = day + timedelta(days=1) if shift.end <= shift.start else day
    return _local(day, shift.start, tz), _local(end_day, shift.end, tz)


def break_periods(day: date, shift: ShiftDefinition, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The shift's breaks in UTC; a break clock time before the shift start is after midnight."""
    start, end = shift_period(day, shift, tz)
    periods = []
    for brk in shift.breaks:
        brk_day = day + timedelta(days=1) if brk.start < shift.start else day
        b_start = _local(brk_day, brk.start, tz)
        b_end = b_start + timedelta(minutes=brk.minutes)
        b_start, b_end = max(b_start, start), min(b_end, end)
        if b_start < b_end:
            periods.append((b_start, b_end))
    return periods


def _holidays(conn: psycopg.Connection, line_id: str, first: date, last: date) -> set[date]:
    rows = conn.execute(
        "SELECT day FROM calendar_holidays WHERE day BETWEEN %s AND %s AND (line_id IS NULL OR line_id = %s)",
        (first, last, line_id),
    ).fetchall()
    return {row[0] for row in rows}


def build_line_calendar(
    conn: psycopg.Connection, line_id: str, pattern: ShiftPattern | None, timezone: str, first: date, last: date
) -> int:
    """Materialise the shifts (and their breaks) starting on local days ``first``..``last``.
    Idempotent: existing instances are kept. Returns how many shifts were added."""
    pattern = pattern or ROUND_THE_CLOCK
    tz = ZoneInfo(timezone)
    holidays = _holidays(conn, line_id, first, last)
    added = 0
    day = first
    while day <= last:
        if ALL_DAYS[day.weekday()] in pattern.days and day not in holidays:
            for shift in pattern.shifts:
                added += _add_instance(conn, line_id, day, shift, tz)
        day += timedelta(days=1)
    return added


def _add_instance(conn: psycopg.Connection, line_id: str, day: date, shift: ShiftDefinition, tz: ZoneInfo) -> int:
    start, end = shift_period(day, shift, tz)
    row = conn.execute(
        "INSERT INTO shift_instances (line_id, name, local_date, period, source) "
        "VALUES (%s, %s, %s, tstzrange(%s, %s), 'pattern') ON CONFLICT DO NOTHING RETURNING id",
        (line_id, shift.name, day, start, end),
    ).fetchone()
    if row is None:
        return 0
    for b_start, b_end in break_periods(day, shift, tz):
        conn.execute(
            "INSERT INTO planned_downtime (line_id, period, kind, source, note) "
            "VALUES (%s, tstzrange(%s, %s), 'break', 'pattern', %s)",
            (line_id, b_start, b_end, f"{shift.name} break"),
        )
    return 1


def ensure_calendar(conn: psycopg.Connection, plant: Plant, first: date, last: date) -> int:
    """Build every line's calendar for local days ``first``..``last``."""
    patterns = {p.id: p for p in plant.shift_patterns}
    added = 0
    for line in plant.lines():
        pattern = patterns.get(line.shift_pattern) if line.shift_pattern else None
        added += build_line_calendar(conn, line.id, pattern, plant.site.timezone, first, last)
    return added


def rebuild_future(conn: psycopg.Connection, plant: Plant, now: datetime, days: int = 7) -> None:
    """After a config change: drop pattern shifts (and breaks) that have not started yet and
    build them again from the current patterns. Past shifts stay as they were planned."""
    for line in plant.lines():
        _drop_pattern_shifts(conn, line.id, "lower(period) > %s", (now,))
    today = now.astimezone(ZoneInfo(plant.site.timezone)).date()
    ensure_calendar(conn, plant, today - timedelta(days=1), today + timedelta(days=days))


def _drop_pattern_shifts(conn: psycopg.Connection, line_id: str, where: str, params: tuple) -> None:
    rows = conn.execute(
        f"DELETE FROM shift_instances WHERE line_id = %s AND source = 'pattern' AND {where} RETURNING period",
        (line_id, *params),
    ).fetchall()
    for (period,) in rows:
        conn.execute(
            "DELETE FROM planned_downtime WHERE line_id = %s AND source = 'pattern' AND period <@ %s",
            (line_id, period),
        )


def add_holiday(conn: psycopg.Connection, day: date, name: str, by: str, line_id: str | None = None) -> None:
    """No shifts on local ``day`` (for one line or all): pattern shifts starting that day go."""
    conn.execute(
        "INSERT INTO calendar_holidays (day, line_id, name, created_by) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        (day, line_id, name, by),
    )
    lines = [line_id] if line_id else [r[0] for r in conn.execute("SELECT id FROM equipment WHERE level = 'line'")]
    for line in lines:
        _drop_pattern_shifts(conn, line, "local_date = %s", (day,))


def add_planned_downtime(
    conn: psycopg.Connection, line_id: str, start: datetime, end: datetime, kind: str, note: str, by: str
) -> int:
    """Planned maintenance or a meeting: time taken out of PBT."""
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    row = conn.execute(
        "INSERT INTO planned_downtime (line_id, period, kind, source, note, created_by) "
        "VALUES (%s, tstzrange(%s, %s), %s, 'manual', %s, %s) RETURNING id",
        (line_id, start, end, kind, note, by),
    ).fetchone()
    assert row is not None  # one row: an aggregate or RETURNING
    return int(row[0])


def add_extra_shift(conn: psycopg.Connection, line_id: str, name: str, start: datetime, end: datetime,
                    timezone: str) -> int:
    """A per-line override: an extra shift (e.g. a Saturday). It may not overlap another shift."""
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > timedelta(hours=24):
        raise InvalidInput("a shift lasts at most 24 hours", field="end")
    try:
        local_day = start.astimezone(ZoneInfo(timezone)).date()
    except OverflowError:
        raise InvalidInput("start is out of range", field="start") from None
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO shift_instances (line_id, name, local_date, period, source) "
                "VALUES (%s, %s, %s, tstzrange(%s, %s), 'override') RETURNING id",
                (line_id, name, local_day, start, end),
            ).fetchone()
            assert row is not None  # one row: an aggregate or RETURNING
    except psycopg.errors.ExclusionViolation as exc:
        raise Conflict("the extra shift overlaps an existing shift on this line", field="start") from exc
    return int(row[0])


def list_shifts(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict]:
    """Shift instances overlapping [start, end) with their planned downtime in seconds."""
    return rows(
        conn,
        "SELECT s.id, s.line_id, s.name, s.local_date, lower(s.period) AS start, upper(s.period) AS end, "
        "s.source, coalesce((SELECT sum(extract(epoch FROM upper(d.period * s.period) - "
        "lower(d.period * s.period))) FROM planned_downtime d WHERE d.line_id = s.line_id "
        "AND d.period && s.period), 0)::float AS planned_downtime_seconds "
        "FROM shift_instances s WHERE s.line_id = %s AND s.period && tstzrange(%s, %s) ORDER BY lower(s.period)",
        (line_id, start, end),
    )


def shift_at(conn: psycopg.Connection, line_id: str, at: datetime) -> dict | None:
    """The shift instance running at ``at``, if any."""
    return first(
        conn,
        "SELECT id, name, local_date, lower(period) AS start, upper(period) AS end FROM shift_instances "
        "WHERE line_id = %s AND period @> %s::timestamptz",
        (line_id, at),
    )


__all__ = [
    "add_extra_shift",
    "add_holiday",
    "add_planned_downtime",
    "build_line_calendar",
    "ensure_calendar",
    "list_shifts",
    "rebuild_future",
    "shift_at",
]


def named_shift(conn: psycopg.Connection, line_id: str, name: str, day_of: datetime) -> tuple[datetime, datetime]:
    """The period of the shift called ``name`` on the plant-local day of ``day_of`` (for
    ``linebrain kpi --shift night``); a clear error listing the shift names otherwise."""
    from mes.errors import NotFound

    row = conn.execute(
        "SELECT lower(s.period), upper(s.period) FROM shift_instances s JOIN equipment e ON e.id = s.line_id "
        "WHERE s.line_id = (SELECT coalesce(line_id, id) FROM equipment WHERE id = %s) AND s.name = %s "
        "AND s.local_date = (%s::timestamptz AT TIME ZONE e.timezone)::date",
        (line_id, name, day_of),
    ).fetchone()
    if row is None:
        names = [r[0] for r in conn.execute(
            "SELECT DISTINCT name FROM shift_instances WHERE line_id = (SELECT coalesce(line_id, id) FROM equipment "
            "WHERE id = %s) ORDER BY name", (line_id,))]  # fmt: skip
        raise NotFound(f"no shift {name!r} on that day (shifts: {', '.join(names) or 'none'})", field="shift")
    return row[0], row[1]
