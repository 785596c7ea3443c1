"""Automatic process checks: bound tags against the product's process limits.

While an order runs, every active spec of its product (and line) that binds a
tag with process limits is checked against that tag's samples. An
*excursion* is a stretch of good-quality samples outside the limits lasting at
least the spec's minimum duration (shorter blips are noise). It is recorded
with its start, end, worst value, the order and the lot being made, and raises
a quality event. When it ends, a nonconformance is opened on that order and
lot for the units counted while it lasted — or, on a batch process where no
unit completed meanwhile, for the lot in process — so the affected product
gets a disposition.

A value holds until the next sample (collectors store on change), so an
excursion starts at the first sample outside and ends at the first sample
back inside, or at the end of the order run. Bad and uncertain samples are
ignored: they say nothing about the process. Checking is incremental: a
watermark per (spec, order) remembers how far samples were judged, and an
excursion still open is re-examined from its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from collectors.samples import is_good
from mes.quality.alarms import excursion_alarm
from mes.quality.db import rows
from mes.quality.events import record_event
from mes.quality.genealogy import lot_at
from mes.quality.specs import specs_for


@dataclass
class Episode:
    """One stretch outside the limits (end None while still outside)."""

    start: datetime
    direction: str  # "high" or "low"
    limit: float
    worst: float
    end: datetime | None = None

    def duration(self, until: datetime) -> float:
        return ((self.end or until) - self.start).total_seconds()


def find_excursions(
    samples: Iterable[tuple[datetime, float | None, int]],
    low: float | None,
    high: float | None,
    min_duration_s: float,
    until: datetime,
) -> tuple[list[Episode], datetime | None]:
    """Excursions in time-ordered ``(time, value, status)`` samples observed up to ``until``.

    Returns the excursions long enough to count (the last may be open) and, when
    the series ends inside a stretch still too short to count, that stretch's
    start: it must be looked at again once more samples arrive.
    """
    found: list[Episode] = []
    current: Episode | None = None

    def finish(episode: Episode) -> None:
        if episode.duration(until) >= min_duration_s:
            found.append(episode)

    for time, value, status in samples:
        if value is None or not is_good(status):
            continue
        direction = "high" if high is not None and value > high else "low" if low is not None and value < low else None
        if current is not None and direction != current.direction:
            current.end = time
            finish(current)
            current = None
        if direction is None:
            continue
        if current is None:
            current = Episode(time, direction, high if direction == "high" else low, value)  # type: ignore[arg-type]
        elif (value > current.worst) if direction == "high" else (value < current.worst):
            current.worst = value
    pending = None
    if current is not None:
        if current.duration(until) >= min_duration_s:
            found.append(current)
        else:
            pending = current.start
    return found, pending


def run_process_checks(
    conn: psycopg.Connection, now: datetime | None = None, *, create_nonconformances: bool = True
) -> list[dict[str, Any]]:
    """Check every order that ran since its last check; returns the excursions recorded or updated."""
    now = now or rows(conn, "SELECT now() AS t")[0]["t"]
    # Orders with running time not yet checked: an open run, or a run ending after the
    # order's least advanced watermark (orders finished and fully checked cost nothing).
    orders = rows(
        conn,
        """
        SELECT o.id, o.number, o.line_id, o.product_id FROM work_orders o
        WHERE EXISTS (
            SELECT 1 FROM order_runs r
            WHERE r.order_id = o.id AND lower(r.period) <= %s
              AND (upper(r.period) IS NULL OR upper(r.period) > coalesce(
                  (SELECT min(p.checked_until) FROM process_check_progress p WHERE p.work_order_id = o.id),
                  '-infinity'))
        )
        ORDER BY o.id
        """,
        (now,),
    )
    touched: list[dict[str, Any]] = []
    for order in orders:
        for spec in specs_for(conn, order["product_id"], order["line_id"]):
            if spec["tag"] and (spec["process_low"] is not None or spec["process_high"] is not None):
                touched.extend(check_order_spec(conn, order, spec, now, create_nonconformances))
    return touched


def check_order_spec(
    conn: psycopg.Connection, order: dict[str, Any], spec: dict[str, Any], now: datetime, create_ncs: bool = True
) -> list[dict[str, Any]]:
    """Judge one spec's tag over one order's runs since the last check."""
    progress = rows(conn, "SELECT checked_until FROM process_check_progress WHERE spec_id = %s AND work_order_id = %s",
                    (spec["id"], order["id"]))
    open_excursion = rows(
        conn, "SELECT start_time FROM process_excursions WHERE spec_id = %s AND work_order_id = %s "
              "AND end_time IS NULL ORDER BY start_time LIMIT 1", (spec["id"], order["id"]))  # fmt: skip
    resume = open_excursion[0]["start_time"] if open_excursion else (progress[0]["checked_until"] if progress else None)
    runs = rows(
        conn,
        "SELECT lower(period) AS start, upper(period) AS stop FROM order_runs WHERE order_id = %s "
        "AND lower(period) <= %s AND (upper(period) IS NULL OR %s::timestamptz IS NULL OR upper(period) > %s) "
        "ORDER BY lower(period)",
        (order["id"], now, resume, resume),
    )
    touched: list[dict[str, Any]] = []
    checked_until = resume
    for run in runs:
        start = max(run["start"], resume) if resume else run["start"]
        until = min(run["stop"], now) if run["stop"] else now
        if until <= start:
            continue
        series = _series(conn, spec["tag"], start, until)
        episodes, pending = find_excursions(series, spec["process_low"], spec["process_high"],
                                            spec["min_duration_s"], until)
        for episode in episodes:
            if episode.end is None and run["stop"] is not None and run["stop"] <= now:
                episode.end = run["stop"]  # the order stopped running: so did the excursion on it
            touched.append(_save(conn, order, spec, episode, create_ncs))
        checked_until = pending - timedelta(microseconds=1) if pending else until
        if pending:
            break  # look again from the pending stretch next time
    if checked_until is not None:
        conn.execute(
            "INSERT INTO process_check_progress (spec_id, work_order_id, checked_until) VALUES (%s, %s, %s) "
            "ON CONFLICT (spec_id, work_order_id) DO UPDATE SET checked_until = EXCLUDED.checked_until",
            (spec["id"], order["id"], checked_until),
        )
    return touched


def _series(conn: psycopg.Connection, tag: str, start: datetime, until: datetime) -> list[tuple]:
    """Samples of ``tag`` in (start, until], led by the value holding at ``start``."""
    before = rows(
        conn,
        "SELECT x.value, x.status FROM samples x JOIN tags t ON t.id = x.tag_id WHERE t.name = %s "
        "AND x.time <= %s AND x.status < 1073741824 ORDER BY x.time DESC LIMIT 1",
        (tag, start),
    )
    series: list[tuple] = [(start, before[0]["value"], before[0]["status"])] if before else []
    series += [
        (r["time"], r["value"], r["status"])
        for r in rows(
            conn,
            "SELECT x.time, x.value, x.status FROM samples x JOIN tags t ON t.id = x.tag_id WHERE t.name = %s "
            "AND x.time > %s AND x.time <= %s ORDER BY x.time",
            (tag, start, until),
        )
    ]
    return series


def _save(conn: psycopg.Connection, order: dict, spec: dict, episode: Episode, create_nc: bool) -> dict[str, Any]:
    lot = lot_at(conn, order["id"], episode.start)
    before = rows(conn, "SELECT end_time FROM process_excursions WHERE spec_id = %s AND work_order_id = %s "
                        "AND start_time = %s", (spec["id"], order["id"], episode.start))  # fmt: skip
    saved = rows(
        conn,
        """
        INSERT INTO process_excursions (spec_id, tag, line_id, work_order_id, lot_id, start_time, end_time,
                                        direction, limit_value, worst_value)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (spec_id, work_order_id, start_time) DO UPDATE SET
            end_time = EXCLUDED.end_time, lot_id = coalesce(process_excursions.lot_id, EXCLUDED.lot_id),
            worst_value = CASE WHEN EXCLUDED.direction = 'high'
                               THEN greatest(process_excursions.worst_value, EXCLUDED.worst_value)
                               ELSE least(process_excursions.worst_value, EXCLUDED.worst_value) END
        RETURNING *
        """,
        (spec["id"], spec["tag"], order["line_id"], order["id"], lot["id"] if lot else None, episode.start,
         episode.end, episode.direction, episode.limit, episode.worst),
    )[0]  # fmt: skip
    unit = f" {spec['unit']}" if spec["unit"] else ""
    record_event(
        conn, "excursion",
        f"{spec['characteristic']} ({spec['tag']}) {episode.direction} on order {order['number']}: "
        f"worst {episode.worst:g}{unit}, limit {episode.limit:g}{unit}",
        time=episode.start, line_id=order["line_id"], work_order_id=order["id"], source_id=saved["id"],
        details={"spec_id": spec["id"], "lot": lot["code"] if lot else None},
    )  # fmt: skip
    excursion_alarm(conn, saved, spec, new=not before, was_open=not before or before[0]["end_time"] is None)
    saved["lot_code"] = lot["code"] if lot else None
    if create_nc and saved["end_time"] is not None:
        saved["nonconformance_id"] = _open_nonconformance(conn, order, spec, saved, lot)
    return saved


def units_made_between(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> float:
    """Units counted on the line in count buckets that end within (start, end + one bucket]."""
    found = rows(
        conn,
        """
        SELECT coalesce(sum(CASE WHEN total > 0 THEN total ELSE good + reject END), 0) AS units
        FROM count_buckets WHERE equipment_id = %s AND cut_end > %s AND cut_end <= %s + interval '1 minute'
        """,
        (line_id, start, end),
    )
    return float(found[0]["units"])


def _open_nonconformance(conn, order: dict, spec: dict, excursion: dict, lot: dict | None) -> int | None:
    from mes.quality.nonconformances import NonconformanceIn, create_nonconformance

    existing = rows(conn, "SELECT id FROM nonconformances WHERE source = 'excursion' AND source_id = %s",
                    (excursion["id"],))
    if existing:
        return existing[0]["id"]
    units = units_made_between(conn, order["line_id"], excursion["start_time"], excursion["end_time"])
    if units <= 0 and lot is not None:
        units = float(lot["quantity"])  # a batch in process when nothing completed meanwhile: the batch is suspect
    if units <= 0:
        return None  # nothing was made while it lasted: the event is enough
    nc = create_nonconformance(
        conn,
        NonconformanceIn(
            description=f"{spec['characteristic']} {excursion['direction']} outside process limits "
                        f"(worst {excursion['worst_value']:g} {spec['unit']}) from {excursion['start_time']:%H:%M:%S} "
                        f"to {excursion['end_time']:%H:%M:%S}",
            quantity=units, found_at=f"process check {spec['tag']}", work_order_id=order["id"],
            lot_code=lot["code"] if lot else None, line_id=order["line_id"], spec_id=spec["id"],
            defect_code=f"process_{excursion['direction']}", reported_by="process-check", time=excursion["start_time"],
        ),
        source="excursion", source_id=excursion["id"],
    )  # fmt: skip
    return nc["id"]


def list_excursions(
    conn: psycopg.Connection, *, line_id: str | None = None, work_order_id: int | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    return rows(
        conn,
        """
        SELECT e.*, s.characteristic, s.unit, l.code AS lot_code FROM process_excursions e
        JOIN quality_specs s ON s.id = e.spec_id LEFT JOIN lots l ON l.id = e.lot_id
        WHERE (%(l)s::text IS NULL OR e.line_id = %(l)s) AND (%(o)s::bigint IS NULL OR e.work_order_id = %(o)s)
        ORDER BY e.start_time DESC LIMIT %(n)s
        """,
        {"l": line_id, "o": work_order_id, "n": limit},
    )
