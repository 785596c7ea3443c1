"""Counts: counter tags turned into deltas that survive PLC resets and rollovers.

A counter of ``bits`` wraps at 2^bits. Between two usable samples the delta is the
difference when it is not negative. A drop is either a reset (the counter restarted
from zero: the delta is the new value) or a wrap (the counter passed its maximum:
the delta is value + 2^bits - previous); the binding's ``reset_threshold`` (a share
of the range) tells them apart: a drop smaller than it is a reset. A larger drop
is still a reset when the wrap it implies is more than the line could make in the
time between the samples (twice its fastest ideal rate). So a reset is never a
negative count and a wrap never a huge one. Bad-quality samples are
skipped: what was counted during a gap appears with the next good sample.

Deltas are summed per cut (see the ``count_buckets`` table) in SQL: one pass over
the new samples, cut at whole minutes and at the shift, break and order-run
boundaries known now, so each cut belongs to exactly one shift and order. A cut
is stored at the time of its latest sample (``cut_end``), so it is attributed
like the samples in it.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from mes.errors import InvalidInput

COUNT_KINDS = ("good", "reject", "total", "energy")

# %(col)s is a whitelisted column name, everything else is a parameter.
DERIVE_COUNTS = """
WITH s AS (
    SELECT time, value - %(range)s * floor(value / %(range)s) AS v
    FROM samples
    WHERE tag_id = %(tag)s AND time > %(after)s AND time <= %(until)s
      AND status < 2147483648 AND value IS NOT NULL AND value = value
),
d AS (
    SELECT time, v,
           coalesce(lag(v) OVER w, %(prev)s::double precision) AS prev_v,
           coalesce(lag(time) OVER w, %(prev_time)s::timestamptz) AS prev_time
    FROM s WINDOW w AS (ORDER BY time)
),
delta AS (
    SELECT time,
           CASE
               WHEN prev_v IS NULL THEN 0
               WHEN v >= prev_v THEN v - prev_v
               WHEN prev_v - v < %(threshold)s * %(range)s THEN v
               -- A "wrap" the line could not have produced in the time is a reset.
               WHEN %(max_rate)s::double precision IS NOT NULL
                    AND v + %(range)s - prev_v > %(max_rate)s * extract(epoch FROM time - prev_time) + 100 THEN v
               ELSE v + %(range)s - prev_v
           END AS qty
    FROM d
),
bounded AS (
    -- width_bucket over the sorted boundaries: i with b[i] <= time < b[i+1], a binary search.
    SELECT time, qty, width_bucket(time, %(bounds)s::timestamptz[]) AS i FROM delta
),
cut AS (
    SELECT least(date_bin('60 seconds', time - interval '1 microsecond', 'epoch'::timestamptz) + interval '60 seconds',
                 CASE WHEN i > 0 AND (%(bounds)s::timestamptz[])[i] = time THEN time
                      ELSE (%(bounds)s::timestamptz[])[i + 1] END) AS cut,
           time, qty
    FROM bounded
)
-- A cut is stored at its latest sample time: a window ending between two minutes
-- (e.g. "now") holds every delta seen up to it.
INSERT INTO count_buckets (equipment_id, cut_end, {col})
SELECT %(unit)s, max(time), sum(qty) FROM cut GROUP BY cut HAVING sum(qty) <> 0
ON CONFLICT (equipment_id, cut_end) DO UPDATE SET {col} = count_buckets.{col} + EXCLUDED.{col}
"""

BOUNDARIES = """
SELECT DISTINCT t FROM (
    SELECT unnest(ARRAY[lower(period), upper(period)]) AS t FROM shift_instances
    WHERE line_id = %(line)s AND period && tstzrange(%(after)s, %(until)s, '(]')
    UNION ALL
    SELECT unnest(ARRAY[lower(period), upper(period)]) FROM planned_downtime
    WHERE line_id = %(line)s AND period && tstzrange(%(after)s, %(until)s, '(]')
    UNION ALL
    SELECT unnest(ARRAY[lower(period), upper(period)]) FROM order_runs
    WHERE line_id = %(line)s AND period && tstzrange(%(after)s, %(until)s, '(]')
) b WHERE t IS NOT NULL AND t > %(after)s AND t <= %(until)s
"""


def counter_delta(prev: float | None, value: float, bits: int, reset_threshold: float,
                  max_units: float | None = None) -> float:
    """The Python twin of the SQL rule, for tests and documentation. ``max_units`` is the most
    the line can make between the two samples (when known): a larger "wrap" is a reset."""
    size = 2.0**bits
    value = value - size * (value // size)
    if prev is None:
        return 0.0
    if value >= prev:
        return value - prev
    if prev - value < reset_threshold * size:
        return value
    if max_units is not None and value + size - prev > max_units + 100:
        return value
    return value + size - prev


def derive_counts(conn: psycopg.Connection, unit: dict, kind: str, tag_id: int, bits: int, reset_threshold: float,
                  now: datetime) -> None:
    """Add the deltas of one counter tag's new samples to ``count_buckets``."""
    if kind not in COUNT_KINDS:
        raise ValueError(kind)
    stream = f"count:{kind}"
    wm = conn.execute(
        "SELECT last_time, last_value FROM derive_watermarks WHERE equipment_id = %s AND stream = %s",
        (unit["id"], stream),
    ).fetchone()
    after = wm[0] if wm else datetime.min.replace(tzinfo=now.tzinfo)
    last = conn.execute(
        "SELECT time, value FROM samples WHERE tag_id = %s AND time > %s AND time <= %s AND status < 2147483648 "
        "AND value IS NOT NULL AND value = value ORDER BY time DESC LIMIT 1",
        (tag_id, after, now),
    ).fetchone()
    if last is None:
        return
    until = last[0]
    size = 2.0**bits
    params = {"line": unit["line_id"], "after": after, "until": until}
    bounds = sorted(row[0] for row in conn.execute(BOUNDARIES, params))
    bounds = bounds or [datetime.max.replace(tzinfo=now.tzinfo)]  # width_bucket needs one threshold
    conn.execute(
        DERIVE_COUNTS.format(col=kind).encode(),
        {"range": size, "tag": tag_id, "after": after, "until": until, "prev": wm[1] if wm else None,
         "prev_time": wm[0] if wm else None, "threshold": reset_threshold, "bounds": bounds, "unit": unit["id"],
         "max_rate": _max_rate(unit, kind)},
    )  # fmt: skip
    conn.execute(
        "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_value) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (equipment_id, stream) DO UPDATE SET last_time = EXCLUDED.last_time, "
        "last_value = EXCLUDED.last_value, updated_at = now()",
        (unit["id"], stream, last[0], last[1] - size * (last[1] // size)),
    )


def _max_rate(unit: dict, kind: str) -> float | None:
    """Units per second the unit can make at most: twice its fastest ideal rate (a drop whose
    wrap reading would need more is a reset). Unknown for energy or without a product."""
    if kind == "energy" or not unit.get("default_pru"):
        return None
    return 2.0 / unit["default_pru"]


def adjust_count(conn: psycopg.Connection, unit_id: str, kind: str, at: datetime, quantity: float, why: str,
                 by: str) -> int:
    """A manual count correction (signed). Never edits derived counts: it is a new row."""
    if kind not in ("good", "reject", "total", "rework"):
        raise InvalidInput(f"kind must be good, reject, total or rework, not {kind!r}", field="kind")
    if not why.strip():
        raise InvalidInput("say why the count is corrected", field="why")
    row = conn.execute(
        "INSERT INTO count_adjustments (equipment_id, kind, at, quantity, why, by_user) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (unit_id, kind, at, quantity, why, by),
    ).fetchone()
    return int(row[0])


def count_totals(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> dict[str, float]:
    """Raw sums per kind over (start, end], corrections included."""
    row = conn.execute(
        "SELECT coalesce(sum(good), 0), coalesce(sum(reject), 0), coalesce(sum(total), 0), coalesce(sum(energy), 0) "
        "FROM count_buckets WHERE equipment_id = %s AND cut_end > %s AND cut_end <= %s",
        (unit_id, start, end),
    ).fetchone()
    totals = {"good": row[0], "reject": row[1], "total": row[2], "energy": row[3], "rework": 0.0}
    for kind, qty in conn.execute(
        "SELECT kind, sum(quantity) FROM count_adjustments WHERE equipment_id = %s AND at > %s AND at <= %s "
        "GROUP BY kind",
        (unit_id, start, end),
    ):
        totals[kind] += qty
    return totals
