"""Machine states: the state tag's samples turned into stored intervals.

Each usable sample's raw code maps through the line's code map to a state; the
state holds until the next sample, but never longer than the tag's stale
timeout: beyond it, and for bad-quality samples, the state is ``unknown`` (no data
is never running). Intervals tile time from the first sample to the horizon
(``now``); the tail after the last sample is provisional and is re-derived on the
next run, so the result is the same however the samples are batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

USABLE_STATUS_LIMIT = 0x80000000  # StatusCode below 2^31: Good or Uncertain (top bits 00 or 01)

CHANGE_POINTS = """
SELECT time, value, usable, prev_time FROM (
    SELECT time, value, status < %(usable)s AS usable,
           lag(time) OVER w AS prev_time, lag(value) OVER w AS prev_value,
           lag(status < %(usable)s) OVER w AS prev_usable
    FROM samples
    WHERE tag_id = %(tag)s AND time > %(after)s AND time <= %(until)s
    WINDOW w AS (ORDER BY time)
) s
WHERE prev_time IS NULL OR value IS DISTINCT FROM prev_value OR usable <> prev_usable
   OR time - prev_time > %(stale)s
ORDER BY time
"""


@dataclass
class Interval:
    start: datetime
    end: datetime
    state: str
    raw_code: int | None
    fault_code: int | None


@dataclass
class _Point:
    time: datetime
    state: str
    raw_code: int | None


def _classify(value: float | None, usable: bool, codes: dict[int, str], default: str) -> tuple[str, int | None]:
    if not usable or value is None:
        return "unknown", None
    code = int(value)
    if code != value:
        return default, None
    return codes.get(code, default), code


def build_intervals(
    points: list[tuple[datetime, float | None, bool, datetime | None]],
    start: _Point | None,
    last_sample: datetime | None,
    horizon: datetime,
    stale: timedelta,
    codes: dict[int, str],
    default: str,
) -> list[Interval]:
    """Pure core of the derivation: change points -> intervals up to ``horizon``.

    ``points`` are (time, value, usable, previous sample time) rows, ``start`` the state
    in force at the watermark, ``last_sample`` the newest sample time seen."""
    out: list[Interval] = []
    current = start

    def emit(begin: datetime, end: datetime, state: str, raw: int | None) -> None:
        if end <= begin:
            return
        if out and out[-1].end == begin and out[-1].state == state and out[-1].raw_code == raw:
            out[-1].end = end
        else:
            out.append(Interval(begin, end, state, raw, None))

    for time, value, usable, prev_time in points:
        state, raw = _classify(value, usable, codes, default)
        if current is not None:
            held_until = prev_time if prev_time is not None else current.time
            valid_end = min(time, max(held_until, current.time) + stale)
            emit(current.time, valid_end, current.state, current.raw_code)
            emit(valid_end, time, "unknown", None)
        current = _Point(time, state, raw)
    if current is not None:
        newest = max(last_sample or current.time, current.time)
        valid_end = min(newest + stale, horizon)
        emit(current.time, valid_end, current.state, current.raw_code)
        emit(valid_end, horizon, "unknown", None)
    return out


def derive_states(
    conn: psycopg.Connection, unit: dict, tag_id: int, now: datetime, fault_tag_id: int | None
) -> datetime | None:
    """Derive ``unit``'s state intervals from new samples of its state tag. Returns the
    earliest time whose intervals changed (downtime events are re-derived from there)."""
    codes = {int(code): state for code, state in conn.execute(
        "SELECT code, state FROM state_codes WHERE equipment_id = %s", (unit["id"],))}
    stale = timedelta(seconds=unit["state_stale_seconds"])
    wm = conn.execute(
        "SELECT last_time, last_value, last_usable FROM derive_watermarks WHERE equipment_id = %s AND stream = 'state'",
        (unit["id"],),
    ).fetchone()
    after = wm[0] if wm else datetime.min.replace(tzinfo=now.tzinfo)
    until = max(now, after)
    points = conn.execute(
        CHANGE_POINTS, {"usable": USABLE_STATUS_LIMIT, "tag": tag_id, "after": after, "until": until, "stale": stale}
    ).fetchall()
    last = conn.execute(
        "SELECT time, value, status < %s FROM samples WHERE tag_id = %s AND time > %s AND time <= %s "
        "ORDER BY time DESC LIMIT 1",
        (USABLE_STATUS_LIMIT, tag_id, after, until),
    ).fetchone()
    if wm is None and not points:
        return None
    start = None
    if wm is not None:
        state, raw = _classify(wm[1], wm[2], codes, unit["state_default"])
        start = _Point(wm[0], state, raw)
        points = [(t, v, u, p if p is not None else wm[0]) for t, v, u, p in points]
    horizon = max(now, last[0] if last else after)
    intervals = build_intervals(points, start, last[0] if last else None, horizon, stale, codes,
                                unit["state_default"])
    if fault_tag_id is not None:
        _attach_fault_codes(conn, intervals, fault_tag_id)
    else:
        for interval in intervals:
            if interval.state not in ("running", "unknown"):
                interval.fault_code = interval.raw_code
    changed_from = start.time if start else (intervals[0].start if intervals else None)
    _store(conn, unit["id"], changed_from, intervals)
    if last is not None:
        conn.execute(
            "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_value, last_usable) "
            "VALUES (%s, 'state', %s, %s, %s) ON CONFLICT (equipment_id, stream) DO UPDATE SET "
            "last_time = EXCLUDED.last_time, last_value = EXCLUDED.last_value, "
            "last_usable = EXCLUDED.last_usable, updated_at = now()",
            (unit["id"], last[0], last[1], last[2]),
        )
    return changed_from


def _attach_fault_codes(conn: psycopg.Connection, intervals: list[Interval], fault_tag_id: int) -> None:
    """A stop's fault code is the fault tag's value when the stop began (a PLC may write it
    a moment after the state, hence the one-second allowance)."""
    for interval in intervals:
        if interval.state in ("running", "unknown"):
            continue
        row = conn.execute(
            "SELECT value FROM samples WHERE tag_id = %s AND time <= %s AND status < %s AND value IS NOT NULL "
            "ORDER BY time DESC LIMIT 1",
            (fault_tag_id, interval.start + timedelta(seconds=1), USABLE_STATUS_LIMIT),
        ).fetchone()
        if row is not None and row[0]:
            interval.fault_code = int(row[0])


def _store(conn: psycopg.Connection, unit_id: str, changed_from: datetime | None, intervals: list[Interval]) -> None:
    if changed_from is not None:
        conn.execute(
            "DELETE FROM state_intervals WHERE equipment_id = %s AND lower(period) >= %s", (unit_id, changed_from)
        )
        conn.execute(
            "UPDATE state_intervals SET period = tstzrange(lower(period), %s) "
            "WHERE equipment_id = %s AND period @> %s::timestamptz",
            (changed_from, unit_id, changed_from),
        )
    if not intervals:
        return
    first = intervals[0]
    merged = conn.execute(
        "UPDATE state_intervals SET period = tstzrange(lower(period), %s) "
        "WHERE equipment_id = %s AND upper(period) = %s AND state = %s AND raw_code IS NOT DISTINCT FROM %s "
        "AND fault_code IS NOT DISTINCT FROM %s RETURNING id",
        (first.end, unit_id, first.start, first.state, first.raw_code, first.fault_code),
    ).fetchone()
    rows = intervals[1:] if merged else intervals
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO state_intervals (equipment_id, period, state, raw_code, fault_code) "
            "VALUES (%s, tstzrange(%s, %s), %s, %s, %s)",
            [(unit_id, i.start, i.end, i.state, i.raw_code, i.fault_code) for i in rows],
        )


def current_state(conn: psycopg.Connection, unit_id: str) -> dict | None:
    """The unit's latest state interval: state, raw code and since when."""
    row = conn.execute(
        "SELECT state, raw_code, fault_code, since, until FROM mes_current_state WHERE equipment_id = %s", (unit_id,)
    ).fetchone()
    if row is None:
        return None
    return {"state": row[0], "raw_code": row[1], "fault_code": row[2], "since": row[3], "until": row[4]}


def intervals(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> list[dict]:
    """The unit's state intervals overlapping [start, end), clipped to it (a shift timeline)."""
    found = conn.execute(
        "SELECT greatest(lower(period), %(start)s), least(coalesce(upper(period), %(end)s), %(end)s), state, "
        "fault_code FROM state_intervals WHERE equipment_id = %(unit)s AND period && tstzrange(%(start)s, %(end)s) "
        "ORDER BY lower(period)",
        {"unit": unit_id, "start": start, "end": end},
    ).fetchall()
    return [{"start": lo, "end": hi, "state": state, "fault_code": fault} for lo, hi, state, fault in found]
