"""Counts: counter tags turned into deltas that survive resets, wraps and bad reads.

A counter of ``bits`` wraps at 2^bits; readings are taken modulo 2^bits (a signed
16-bit -1 is 65,535). Between two usable readings a step is:

- a **rise** (the reading went up): the difference;
- a **wrap** (a drop from the top ``reset_threshold`` share of the range to the
  bottom share): ``value + 2^bits - previous``;
- a **reset** (any other drop: the PLC restarted the counter from zero): the new
  reading;
- a **jump** (any of the above larger than ``max_rate x elapsed + slack``, when the
  unit's maximum rate is known): not production, 0 units; the counter goes on from
  the new reading.

A **glitch** is one bad reading between two good ones (40,000 -> 0 -> 40,100): the
step into it was a reset or jump, the step out of it too (or a reset seen without a
known rate), and the step across it is a plausible rise. The step out then counts
the rise across it minus what the step into it counted, so the three readings count
100 units, not 40,300. A step's count is a function of the last three usable
readings, so derivation resumes (and re-derives) exactly from the two usable
readings before its window. Jumps, glitches and resets are recorded in
``data_quality_events`` (the KPI side shows them). Bad-quality samples are skipped:
what was counted during a gap appears with the next good reading.

Deltas are summed per cut (see the ``count_buckets`` table) in SQL: cut at whole
minutes and at the shift, break and order-run boundaries known now, so each cut
belongs to exactly one shift and order. A cut is stored at the time of its latest
sample (``cut_end``), so it is attributed like the samples in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from mes.bounds import check_number
from mes.db import scalar
from mes.errors import InvalidInput

COUNT_KINDS = ("good", "reject", "total", "rework", "energy")
USABLE = "status < 2147483648 AND value IS NOT NULL AND value = value"
SLACK_SECONDS = 10.0  # a reading's time may be late by a poll cycle or two
SLACK_UNITS = 10.0

# %(col)s is a whitelisted column name, everything else is a parameter. The cut of a delta:
# width_bucket over the sorted boundaries (i with b[i] <= time < b[i+1], a binary search),
# capped at the next whole minute. A cut is stored at its latest sample time: a window ending
# between two minutes (e.g. "now") holds every delta seen up to it.
CUT_AND_STORE = """
bounded AS (
    SELECT time, qty, width_bucket(time, %(bounds)s::timestamptz[]) AS i FROM delta
),
cut AS (
    SELECT least(date_bin('60 seconds', time - interval '1 microsecond', 'epoch'::timestamptz) + interval '60 seconds',
                 CASE WHEN i > 0 AND (%(bounds)s::timestamptz[])[i] = time THEN time
                      ELSE (%(bounds)s::timestamptz[])[i + 1] END) AS cut,
           time, qty
    FROM bounded
),
stored AS (
    INSERT INTO count_buckets (equipment_id, cut_end, {col})
    SELECT %(unit)s, max(time), sum(qty) FROM cut GROUP BY cut HAVING sum(qty) <> 0
    ON CONFLICT (equipment_id, cut_end) DO UPDATE SET {col} = count_buckets.{col} + EXCLUDED.{col}
)
"""

STORE_DELTAS = """
WITH delta AS (
    SELECT * FROM unnest(%(times)s::timestamptz[], %(qtys)s::double precision[]) AS d (time, qty)
),
""" + CUT_AND_STORE + "SELECT 1"

# One pass in SQL over the new readings (and the two before them, the baseline): a plain
# rise the line can make (see _plain_rise) is stored at once; every other step is returned,
# with the two readings before it, for count_step to judge.
DERIVE_PLAIN = f"""
WITH readings AS (
    SELECT time, value, true AS new FROM samples
    WHERE tag_id = %(tag)s AND time > %(after)s AND time <= %(until)s AND {USABLE}
    UNION ALL
    (SELECT time, value, false FROM samples WHERE tag_id = %(tag)s AND time <= %(after)s AND {USABLE}
     ORDER BY time DESC LIMIT 2)
),
d AS (
    SELECT time, new, value - %(range)s * floor(value / %(range)s) AS v FROM readings
),
steps AS (
    SELECT time, new, v, lag(v) OVER w AS v1, lag(time) OVER w AS t1, lag(v, 2) OVER w AS v0,
           lag(time, 2) OVER w AS t0
    FROM d WINDOW w AS (ORDER BY time)
),
judged AS (
    SELECT *, v1 IS NOT NULL AND v >= v1 AND CASE
        WHEN %(rate)s::double precision IS NULL THEN NOT coalesce(v1 < v0, false)
        ELSE v - v1 <= %(rate)s * (greatest(extract(epoch FROM time - t1), 0) + {SLACK_SECONDS}) + {SLACK_UNITS}
    END AS plain
    FROM steps WHERE new
),
delta AS (
    SELECT time, CASE WHEN plain THEN v - v1 ELSE 0 END AS qty FROM judged
),
""" + CUT_AND_STORE + """
SELECT time, v, t1, v1, t0, v0 FROM judged WHERE NOT plain AND v1 IS NOT NULL ORDER BY time
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


@dataclass(frozen=True)
class CounterRule:
    """How one counter's readings are judged: its width, wrap share and the most units per
    second the unit can make (None: unknown, rises are not judged)."""

    bits: int
    reset_threshold: float
    max_rate: float | None = None
    wraps_at: float | None = None  # a meter's rollover reading (kWh), when it is not 2^bits

    @property
    def size(self) -> float:
        return self.wraps_at or 2.0**self.bits

    def normalise(self, value: float) -> float:
        return value - self.size * (value // self.size)

    def max_units(self, seconds: float) -> float | None:
        if self.max_rate is None:
            return None
        return self.max_rate * (max(seconds, 0.0) + SLACK_SECONDS) + SLACK_UNITS


@dataclass(frozen=True)
class Reading:
    time: datetime
    value: float


@dataclass(frozen=True)
class Step:
    """One step between two readings: rise, wrap, reset or jump, and the units it counts."""

    kind: str
    units: float  # what the step would mean
    counted: float  # what is counted (0 for a jump)


def classify(rule: CounterRule, prev: Reading, cur: Reading) -> Step:
    """The step from ``prev`` to ``cur`` (both normalised)."""
    top = rule.size * (1 - rule.reset_threshold)
    limit = rule.max_units((cur.time - prev.time).total_seconds())
    if cur.value >= prev.value:
        kind, units = "rise", cur.value - prev.value
    elif (prev.value >= top and cur.value < rule.size * rule.reset_threshold
          and (limit is None or cur.value + rule.size - prev.value <= limit)):
        kind, units = "wrap", cur.value + rule.size - prev.value
    else:  # a drop that is no wrap the line could make: the counter restarted
        kind, units = "reset", cur.value
    if limit is not None and units > limit:
        return Step("jump", units, 0.0)
    return Step(kind, units, units)


@dataclass(frozen=True)
class Counted:
    """What the newest of three readings adds, and the data-quality event it implies."""

    quantity: float
    event: str | None = None  # counter_reset, counter_jump, counter_glitch
    event_quantity: float = 0.0


def count_step(rule: CounterRule, r0: Reading | None, r1: Reading | None, r2: Reading) -> Counted:
    """Units the reading ``r2`` adds, given the two usable readings before it (``r1`` the
    nearer). The first reading is the baseline and adds nothing."""
    if r1 is None:
        return Counted(0.0)
    step = classify(rule, r1, r2)
    if r0 is not None and (step.kind != "rise" or rule.max_rate is None):
        before = classify(rule, r0, r1)
        across = classify(rule, r0, r2)
        if before.kind in ("reset", "jump") and across.kind == "rise":  # r1 was a bad read between good ones
            naive = before.units + step.units
            return Counted(across.counted - before.counted, "counter_glitch", naive - across.counted)
    if step.kind == "jump":
        return Counted(0.0, "counter_jump", step.units)
    if step.kind == "reset":
        return Counted(step.counted, "counter_reset", step.counted)
    return Counted(step.counted)


def counter_delta(prev: float | None, value: float, bits: int, reset_threshold: float = 0.1,
                  max_rate: float | None = None, seconds: float = 60.0) -> float:
    """The delta between two readings ``seconds`` apart (no glitch look-back): for tests and docs."""
    rule = CounterRule(bits, reset_threshold, max_rate)
    if prev is None:
        return 0.0
    t0 = datetime.fromtimestamp(0).astimezone()
    t1 = datetime.fromtimestamp(seconds).astimezone()
    return classify(rule, Reading(t0, rule.normalise(prev)), Reading(t1, rule.normalise(value))).counted


def derive_counts(conn: psycopg.Connection, unit: dict, kind: str, tag_id: int, rule: CounterRule,
                  now: datetime) -> None:
    """Add the deltas of one counter tag's new readings to ``count_buckets`` and record the
    data-quality events they imply. Plain rises are summed in SQL; the few other steps are
    judged by :func:`count_step`."""
    if kind not in COUNT_KINDS:
        raise ValueError(kind)
    stream = f"count:{kind}"
    after = scalar(conn, "SELECT last_time FROM derive_watermarks WHERE equipment_id = %s AND stream = %s",
                   (unit["id"], stream)) or datetime.min.replace(tzinfo=now.tzinfo)  # fmt: skip
    last = conn.execute(
        f"SELECT time, value FROM samples WHERE tag_id = %s AND time > %s AND time <= %s AND {USABLE} "
        "ORDER BY time DESC LIMIT 1", (tag_id, after, now)).fetchone()  # fmt: skip
    if last is None:
        return
    params = {"tag": tag_id, "after": after, "until": last[0], "range": rule.size, "rate": rule.max_rate,
              "unit": unit["id"], "bounds": _bounds(conn, unit["line_id"], after, last[0])}  # fmt: skip
    others = conn.execute(DERIVE_PLAIN.format(col=kind).encode(), params).fetchall()
    times: list[datetime] = []
    qtys: list[float] = []
    events: list[tuple[datetime, str, float | None, float, float]] = []
    for time, v, t1, v1, t0, v0 in others:
        r0 = Reading(t0, v0) if t0 is not None else None
        r1 = Reading(t1, v1)
        step = count_step(rule, r0, r1, Reading(time, v))
        if step.quantity:
            times.append(time)
            qtys.append(step.quantity)
        if step.event == "counter_glitch":
            assert r0 is not None
            events.append((t1, step.event, v0, v1, step.event_quantity))
        elif step.event:
            events.append((time, step.event, v1, v, step.event_quantity))
    if times:
        conn.execute(STORE_DELTAS.format(col=kind).encode(), {**params, "times": times, "qtys": qtys})
    _store_events(conn, unit["id"], stream, events)
    conn.execute(
        "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_value) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (equipment_id, stream) DO UPDATE SET last_time = EXCLUDED.last_time, "
        "last_value = EXCLUDED.last_value, updated_at = now()",
        (unit["id"], stream, last[0], rule.normalise(last[1])),
    )


def _bounds(conn: psycopg.Connection, line_id: str, after: datetime, until: datetime) -> list[datetime]:
    """Shift, break and order-run boundaries in (after, until], sorted (at least one: width_bucket
    needs a threshold)."""
    found = sorted(row[0] for row in conn.execute(BOUNDARIES, {"line": line_id, "after": after, "until": until}))
    return found or [datetime.max.replace(tzinfo=until.tzinfo)]


def _store_events(conn: psycopg.Connection, unit_id: str, stream: str, events: list[tuple]) -> None:
    """A glitch replaces the reset or jump first recorded for its bad reading."""
    with conn.cursor() as cur:
        for at, kind, previous, value, quantity in events:
            if kind == "counter_glitch":
                cur.execute("DELETE FROM data_quality_events WHERE equipment_id = %s AND stream = %s AND at = %s",
                            (unit_id, stream, at))  # fmt: skip
            cur.execute(
                "INSERT INTO data_quality_events (equipment_id, stream, at, kind, previous_value, value, quantity) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (unit_id, stream, at, kind, previous, value, quantity),
            )


def counter_rule(binding: dict, unit: dict) -> CounterRule:
    """The rule of a ``counter_bindings`` row for its unit: energy meters are not judged by the
    unit's production rate."""
    rate = None if binding["kind"] == "energy" else unit.get("max_rate")
    return CounterRule(binding["bits"], binding["reset_threshold"], rate, binding.get("wraps_at"))


ADJUSTMENT_KINDS = ("good", "reject", "total", "rework")


def used_kinds(bound: set[str]) -> set[str]:
    """The adjustment kinds a unit's counters let reach the KPIs. PQ is the total counter when
    bound, else good + reject; GQ the good counter when bound, else total - reject; rework
    always leaves GQ. A kind neither read is refused, so a correction never vanishes."""
    has_total, has_good = "total" in bound, "good" in bound
    used = {"rework"}
    if has_good or not has_total:
        used.add("good")
    if not (has_total and has_good):
        used.add("reject")
    if has_total or not has_good:
        used.add("total")
    return used


def quantities(totals: dict[str, float], bound: set[str]) -> dict[str, float]:
    """PQ, GQ, SQ and RQ from raw sums per kind, by the unit's counter bindings (ISO 22400-2:
    PQ = GQ + SQ + RQ, reworked units are not good)."""
    pq = totals["total"] if "total" in bound else totals["good"] + totals["reject"]
    good = totals["good"] if "good" in bound else totals["total"] - totals["reject"]
    gq = good - totals["rework"]
    return {"pq": pq, "gq": gq, "sq": pq - gq - totals["rework"], "rq": totals["rework"]}


def scrap_bookings(conn: psycopg.Connection, unit_id: str, quantity: float) -> list[tuple[str, float]]:
    """The adjustments that move ``quantity`` good units to scrap on this unit's counters."""
    kinds = used_kinds(bound_kinds(conn, unit_id))
    return [(kind, q) for kind, q in (("good", -quantity), ("reject", quantity)) if kind in kinds]


def bound_kinds(conn: psycopg.Connection, unit_id: str) -> set[str]:
    """The counter kinds bound on a unit (good, reject, total, rework, energy)."""
    return {row[0] for row in conn.execute("SELECT kind FROM counter_bindings WHERE equipment_id = %s", (unit_id,))}


def adjust_count(conn: psycopg.Connection, unit_id: str, kind: str, at: datetime, quantity: float, why: str,
                 by: str) -> int:
    """A manual count correction (signed). Never edits derived counts: it is a new row.
    Checked as :func:`adjust_counts` checks it."""
    return adjust_counts(conn, unit_id, [(kind, quantity)], at, why, by)[0]


def adjust_counts(conn: psycopg.Connection, unit_id: str, changes: list[tuple[str, float]], at: datetime, why: str,
                  by: str) -> list[int]:
    """Corrections that belong together (e.g. scrap: good -q, reject +q), checked as one.

    Refused (:class:`InvalidInput` naming the field) when the unit's counters do not use a
    kind (it would change no KPI), or when together they make a quantity of the window they
    fall in (the shift at ``at``, else that hour) negative, or more negative than it was."""
    changes = [(kind, check_number(quantity, "quantity")) for kind, quantity in changes]
    bound = bound_kinds(conn, unit_id)
    for kind, _ in changes:
        if kind not in ADJUSTMENT_KINDS:
            raise InvalidInput(f"kind must be good, reject, total or rework, not {kind!r}", field="kind")
        if kind not in used_kinds(bound):
            raise InvalidInput(
                f"{unit_id} counts with {', '.join(sorted(bound - {'energy'})) or 'no counters'}: "
                f"a {kind} correction would change nothing; use "
                f"{', '.join(sorted(used_kinds(bound)))}",
                field="kind",
            )
    if not why.strip():
        raise InvalidInput("say why the count is corrected", field="why")
    start, end = _adjustment_window(conn, unit_id, at)
    totals = count_totals(conn, unit_id, start, end)
    before = {**{k: totals[k] for k in ADJUSTMENT_KINDS}, **quantities(totals, bound)}
    for kind, quantity in changes:
        totals[kind] += quantity
    after = {**{k: totals[k] for k in ADJUSTMENT_KINDS}, **quantities(totals, bound)}
    for name, value in after.items():
        if value < 0 and value < before[name]:
            raise InvalidInput(
                f"this makes {name} {value:g} between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC; "
                "a window cannot hold a negative quantity",
                field="quantity",
            )
    ids = []
    for kind, quantity in changes:
        row = conn.execute(
            "INSERT INTO count_adjustments (equipment_id, kind, at, quantity, why, by_user) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (unit_id, kind, at, quantity, why, by),
        ).fetchone()
        assert row is not None  # RETURNING gives one row
        ids.append(int(row[0]))
    return ids


def _adjustment_window(conn: psycopg.Connection, unit_id: str, at: datetime) -> tuple[datetime, datetime]:
    """The shift whose (start, end] holds ``at`` (counts belong to the period ending at them), else that hour."""
    row = conn.execute(
        "SELECT lower(period), upper(period) FROM shift_instances "
        "WHERE line_id = (SELECT coalesce(line_id, id) FROM equipment WHERE id = %s) "
        "AND lower(period) < %s AND upper(period) >= %s ORDER BY lower(period) DESC LIMIT 1",
        (unit_id, at, at),
    ).fetchone()
    if row is not None:
        return row[0], row[1]
    hour = at.replace(minute=0, second=0, microsecond=0)
    return (hour, hour + timedelta(hours=1)) if hour < at else (hour - timedelta(hours=1), hour)


def count_totals(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> dict[str, float]:
    """Raw sums per kind over (start, end], corrections included."""
    row = conn.execute(
        "SELECT coalesce(sum(good), 0), coalesce(sum(reject), 0), coalesce(sum(total), 0), coalesce(sum(energy), 0), "
        "coalesce(sum(rework), 0) FROM count_buckets WHERE equipment_id = %s AND cut_end > %s AND cut_end <= %s",
        (unit_id, start, end),
    ).fetchone()
    assert row is not None  # one row: an aggregate or RETURNING
    totals = {"good": row[0], "reject": row[1], "total": row[2], "energy": row[3], "rework": row[4]}
    for kind, qty in conn.execute(
        "SELECT kind, sum(quantity) FROM count_adjustments WHERE equipment_id = %s AND at > %s AND at <= %s "
        "GROUP BY kind",
        (unit_id, start, end),
    ):
        totals[kind] += qty
    return totals


def rewind_counts(conn: psycopg.Connection, unit_id: str, kind: str, tag_id: int, rule: CounterRule,
                  since: datetime) -> None:
    """Forget one counter's facts from the whole minute before ``since`` on, so the next
    :func:`derive_counts` derives them again (a minute is always a cut boundary, so no cut
    is half forgotten). Its baseline are then the readings before that minute: a late
    reading at ``since`` counts what was made since the reading before it."""
    stream = f"count:{kind}"
    cut = scalar(conn, "SELECT date_bin('60 seconds', %s::timestamptz - interval '1 microsecond', 'epoch')",
                 (since,))  # fmt: skip
    conn.execute(f"UPDATE count_buckets SET {kind} = 0 WHERE equipment_id = %s AND cut_end > %s", (unit_id, cut))
    last = [Reading(t, rule.normalise(v)) for t, v in conn.execute(
        f"SELECT time, value FROM samples WHERE tag_id = %s AND time <= %s AND {USABLE} ORDER BY time DESC LIMIT 3",
        (tag_id, cut))][::-1]  # fmt: skip
    # The last reading before the cut may have been judged a glitch by a reading after it:
    # judge it again from the readings before it.
    conn.execute("DELETE FROM data_quality_events WHERE equipment_id = %s AND stream = %s AND at >= %s",
                 (unit_id, stream, last[-1].time if last else cut))  # fmt: skip
    if last:
        window: list[Reading | None] = [None, None, *last]
        counted = count_step(rule, window[-3], window[-2], last[-1])
        if counted.event in ("counter_reset", "counter_jump"):
            _store_events(conn, unit_id, stream, [(last[-1].time, counted.event, window[-2].value
                                                   if window[-2] else None, last[-1].value, counted.event_quantity)])
    conn.execute(
        "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_value) VALUES (%s, %s, %s, NULL) "
        "ON CONFLICT (equipment_id, stream) DO UPDATE SET last_time = EXCLUDED.last_time, last_value = NULL, "
        "updated_at = now()",
        (unit_id, stream, cut),
    )
