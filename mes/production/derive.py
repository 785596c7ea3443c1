"""Incremental derivation: new samples -> order starts, counts, state intervals, downtime events.

``run_once(conn, plant)`` is the hook the collector process calls periodically (and
``linebrain demo`` too). Each stream of each work unit resumes after its watermark
(the last sample it processed), so a run costs what arrived since the last one.
Order-number tags go first so their runs exist when counts are cut at order
boundaries. One run at a time per database (an advisory lock); a second caller
returns at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from collectors.config.models import Plant
from collectors.database.tags import tag_ids
from mes.db import first, rows, scalar
from mes.errors import NotFound
from mes.production.counts import counter_rule, derive_counts, rewind_counts
from mes.production.downtime import derive_events
from mes.production.equipment import work_units
from mes.production.orders import follow_order_tag
from mes.production.root_cause import derive_line
from mes.production.shifts import build_line_calendar
from mes.production.states import derive_states
from mes.production.sync import extend_calendar, sync_plant

log = logging.getLogger(__name__)

_LOCK_KEY = 7_310_442_107  # "linebrain mes derivation"
# id(plant) -> (plant, database) it was synced into; the plant is kept so its id is not reused.
_synced: dict[int, tuple[Plant, str]] = {}


@dataclass
class DeriveReport:
    """What one run did; ``skipped`` when another process was deriving."""

    units: list[str] = field(default_factory=list)
    skipped: bool = False
    errors: list[str] = field(default_factory=list)


def run_once(conn: psycopg.Connection, plant: Plant, now: datetime | None = None,
             only: set[str] | None = None) -> DeriveReport:
    """Derive everything new for every bound line and work cell of ``plant`` (or the units in
    ``only``).

    ``conn`` must be in autocommit mode (each unit is its own transaction, so one
    unit's bad data cannot hold back the others). ``now`` is the horizon of the
    provisional state tail (default: the current time). The plant is synced into
    the database on the first call for that plant object. The shift calendar is built
    for every local day that holds samples not derived yet (imported history), and
    store batches that arrived late (older than what is derived) re-derive their
    window."""
    now = now or datetime.now(UTC)
    report = DeriveReport()
    if not scalar(conn, "SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)):
        report.skipped = True
        return report
    try:
        key = conn.info.dsn
        if _synced.get(id(plant)) != (plant, key) or not _units_present(conn, plant):
            sync_plant(conn, plant, now)
            _synced[id(plant)] = (plant, key)
        else:
            extend_calendar(conn, plant, now)
        tags = tag_ids(conn)
        late = None if only is not None else _take_pending(conn)
        changed: dict[str, datetime] = {}  # line -> earliest changed state interval of its units
        for unit in work_units(plant):
            if only is not None and unit.id not in only:
                continue
            try:
                with conn.transaction():
                    since = _derive_or_rederive(conn, plant, unit.id, unit.line_id, tags, now, late)
                report.units.append(unit.id)
                if since is not None:
                    changed[unit.line_id] = min(since, changed.get(unit.line_id, since))
            except psycopg.Error as exc:  # keep the others going; say which unit failed
                log.exception("derivation failed for %s", unit.id)
                report.errors.append(f"{unit.id}: {exc}")
        _attribute_lines(conn, changed, report)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return report


def _attribute_lines(conn: psycopg.Connection, changed: dict[str, datetime], report: DeriveReport) -> None:
    """Re-attribute the root causes of lines whose machines' states changed (one transaction each)."""
    for line_id, since in changed.items():
        try:
            with conn.transaction():
                derive_line(conn, line_id, since)
        except psycopg.Error as exc:
            log.exception("root-cause attribution failed for %s", line_id)
            report.errors.append(f"{line_id} root cause: {exc}")


def _units_present(conn: psycopg.Connection, plant: Plant) -> bool:
    """Every work unit of ``plant`` has its equipment row: false after the database was restored or
    recreated under the same URL, which must be synced again before anything is derived into it."""
    ids = [unit.id for unit in work_units(plant)]
    return bool(scalar(conn, "SELECT count(*) FROM equipment WHERE id = ANY(%s)", (ids,)) == len(ids))


def _derive_or_rederive(conn: psycopg.Connection, plant: Plant, unit_id: str, line_id: str, tags: dict[str, int],
                        now: datetime, late: datetime | None) -> datetime | None:
    """One unit: calendar for the days its new samples fall on, then derive; from ``late`` on
    again when its facts already reach past it. Returns the earliest time its states changed."""
    earliest = earliest_underived(conn, unit_id, tags)
    reaches = scalar(conn, "SELECT max(last_time) FROM derive_watermarks WHERE equipment_id = %s", (unit_id,))
    rederive_from = late if late is not None and reaches is not None and late <= reaches else None
    starts = [t for t in (earliest, rederive_from) if t is not None]
    if starts:
        cover_history(conn, plant, line_id, min(starts), now, tags, unit_id)
    if rederive_from is not None:
        rewind_unit(conn, unit_id, tags, rederive_from)
    return derive_unit(conn, unit_id, tags, now)


def _take_pending(conn: psycopg.Connection) -> datetime | None:
    """The earliest sample time of the store batches committed since the last run (and forget them)."""
    with conn.transaction():
        return scalar(conn, "WITH taken AS (DELETE FROM derive_pending RETURNING first_time) "
                            "SELECT min(first_time) FROM taken")  # fmt: skip


def earliest_underived(conn: psycopg.Connection, unit_id: str, tags: dict[str, int]) -> datetime | None:
    """The time of the unit's oldest sample that no stream has derived yet (None: caught up)."""
    streams = unit_streams(conn, unit_id)
    found = []
    for stream, tag in streams.items():
        if tag not in tags:
            continue
        oldest = scalar(
            conn,
            "SELECT min(s.time) FROM samples s WHERE s.tag_id = %s AND s.time > coalesce((SELECT last_time "
            "FROM derive_watermarks WHERE equipment_id = %s AND stream = %s), '-infinity')",
            (tags[tag], unit_id, stream),
        )
        if oldest is not None:
            found.append(oldest)
    return min(found) if found else None


def unit_streams(conn: psycopg.Connection, unit_id: str) -> dict[str, str]:
    """Derivation stream -> bound tag name of one unit."""
    unit = conn.execute("SELECT state_tag, order_number_tag FROM equipment WHERE id = %s", (unit_id,)).fetchone()
    streams = {f"count:{kind}": tag for kind, tag in conn.execute(
        "SELECT kind, tag FROM counter_bindings WHERE equipment_id = %s", (unit_id,))}  # fmt: skip
    if unit and unit[0]:
        streams["state"] = unit[0]
    if unit and unit[1]:
        streams["order_number"] = unit[1]
    return streams


def cover_history(conn: psycopg.Connection, plant: Plant, line_id: str, since: datetime, now: datetime,
                  tags: dict[str, int] | None = None, unit_id: str | None = None) -> int:
    """Build the line's pattern shifts for the local days from the day before ``since`` (a night
    shift started then) to the day of the unit's newest sample up to ``now``, but not past
    yesterday (``extend_calendar`` covers yesterday on); existing shifts and holidays are kept."""
    tz = ZoneInfo(plant.site.timezone)
    first_day = since.astimezone(tz).date() - timedelta(days=1)
    newest = newest_sample(conn, unit_id, tags, now) if tags is not None and unit_id else now
    last_day = min((newest or since).astimezone(tz).date(), now.astimezone(tz).date() - timedelta(days=1))
    line = next((ln for ln in plant.lines() if ln.id == line_id), None)
    if first_day > last_day or line is None:
        return 0
    patterns = {p.id: p for p in plant.shift_patterns}
    pattern = patterns.get(line.shift_pattern) if line.shift_pattern else None
    return build_line_calendar(conn, line_id, pattern, plant.site.timezone, first_day, last_day)


def newest_sample(conn: psycopg.Connection, unit_id: str, tags: dict[str, int], now: datetime) -> datetime | None:
    """The time of the unit's newest sample at or before ``now``, over all its bound tags."""
    times = [scalar(conn, "SELECT max(time) FROM samples WHERE tag_id = %s AND time <= %s", (tags[tag], now))
             for tag in unit_streams(conn, unit_id).values() if tag in tags]  # fmt: skip
    found = [t for t in times if t is not None]
    return max(found) if found else None


def derive_unit(conn: psycopg.Connection, unit_id: str, tags: dict[str, int], now: datetime) -> datetime | None:
    """All streams of one unit, in dependency order; returns the earliest time its states changed."""
    unit = first(conn, "SELECT * FROM equipment WHERE id = %s", (unit_id,))
    if unit is None:
        raise NotFound(f"{unit_id}: not in the database (sync the plant config first)", field="unit")
    counters = rows(conn, "SELECT kind, tag, bits, reset_threshold, wraps_at FROM counter_bindings "
                          "WHERE equipment_id = %s ORDER BY kind", (unit_id,))  # fmt: skip
    unit["line_id"] = unit["line_id"] or unit["id"]
    if unit["order_number_tag"] and unit["order_number_tag"] in tags:
        follow_order_tag(conn, unit, tags[unit["order_number_tag"]], now)
    for counter in counters:
        if counter["tag"] in tags:
            derive_counts(conn, unit, counter["kind"], tags[counter["tag"]], counter_rule(counter, unit), now)
    if unit["state_tag"] and unit["state_tag"] in tags:
        fault_tag = tags.get(unit["fault_code_tag"]) if unit["fault_code_tag"] else None
        changed_from = derive_states(conn, unit, tags[unit["state_tag"]], now, fault_tag)
        if changed_from is not None:
            derive_events(conn, unit, changed_from)
        return changed_from
    return None


def rederive(conn: psycopg.Connection, plant: Plant, unit_id: str, since: datetime,
             now: datetime | None = None) -> None:
    """Derive one unit again from ``since`` on: for samples that arrived late (older than
    the watermarks) or after a code-map change. Derived rows after ``since`` are replaced;
    people's records (orders, reason assignments, corrections) are kept."""
    now = now or datetime.now(UTC)
    tags = tag_ids(conn)
    with conn.transaction():
        unit = first(conn, "SELECT line_id FROM equipment WHERE id = %s", (unit_id,))
        if unit is None:
            raise ValueError(f"no unit {unit_id!r}")
        cover_history(conn, plant, unit["line_id"] or unit_id, since, now, tags, unit_id)
        rewind_unit(conn, unit_id, tags, since)
        changed_from = derive_unit(conn, unit_id, tags, now)
        if changed_from is not None:
            derive_line(conn, unit["line_id"] or unit_id, min(since, changed_from))


def rewind_unit(conn: psycopg.Connection, unit_id: str, tags: dict[str, int], since: datetime) -> None:
    """Forget the unit's derived facts from ``since`` on (states, counts, data-quality events),
    so the next derivation makes them again. Counters restart from the readings before the
    whole minute before ``since``."""
    unit = first(conn, "SELECT * FROM equipment WHERE id = %s", (unit_id,))
    if unit is None:
        raise ValueError(f"no unit {unit_id!r}")
    if unit["state_tag"] in tags:
        _rewind(conn, unit_id, "state", tags[unit["state_tag"]], since)
    for binding in rows(conn, "SELECT kind, tag, bits, reset_threshold, wraps_at FROM counter_bindings "
                        "WHERE equipment_id = %s", (unit_id,)):  # fmt: skip
        if binding["tag"] in tags:
            rewind_counts(conn, unit_id, binding["kind"], tags[binding["tag"]], counter_rule(binding, unit), since)
    conn.execute(
        "DELETE FROM count_buckets WHERE equipment_id = %s AND good = 0 AND reject = 0 AND total = 0 "
        "AND rework = 0 AND energy = 0", (unit_id,))  # fmt: skip


def _rewind(conn: psycopg.Connection, unit_id: str, stream: str, tag_id: int, since: datetime) -> None:
    """Put the state stream's watermark on its last sample at or before ``since`` (a state is a
    level: the sample in force at ``since`` is all the re-derivation needs)."""
    row = conn.execute(
        "SELECT time, value, status < 2147483648 FROM samples WHERE tag_id = %s AND time <= %s "
        "ORDER BY time DESC LIMIT 1",
        (tag_id, since),
    ).fetchone()
    if row is None:
        conn.execute("DELETE FROM derive_watermarks WHERE equipment_id = %s AND stream = %s", (unit_id, stream))
        conn.execute("DELETE FROM state_intervals WHERE equipment_id = %s", (unit_id,))
        return
    conn.execute(
        "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_value, last_usable) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (equipment_id, stream) DO UPDATE SET last_time = EXCLUDED.last_time, "
        "last_value = EXCLUDED.last_value, last_usable = EXCLUDED.last_usable, updated_at = now()",
        (unit_id, stream, row[0], row[1], row[2]),
    )


@dataclass
class CatchUp:
    """What :func:`catch_up` did: the units, the time derived up to, and failures."""

    units: list[str]
    start: datetime | None
    until: datetime
    errors: list[str] = field(default_factory=list)


def units_of(plant: Plant, line: str | None) -> list[str]:
    """The work units of one line or work cell (all when ``line`` is None); an unknown id is
    an :class:`~mes.errors.InvalidInput` naming ``--line``."""
    from mes.errors import InvalidInput

    units = [u.id for u in work_units(plant) if line is None or line in (u.id, u.line_id)]
    if line is not None and not units:
        known = ", ".join(sorted({u.line_id for u in work_units(plant)})) or "none"
        raise InvalidInput(f"no line or work cell {line!r} with bindings in the config (lines: {known})", field="line")
    return units


def catch_up(conn: psycopg.Connection, plant: Plant, *, line: str | None = None, since: datetime | None = None,
             until: datetime | None = None, rederive_all: bool = False,
             progress: Callable[[float, float], None] | None = None, step: timedelta = timedelta(days=1)) -> CatchUp:
    """Derive on demand (``linebrain derive``): sync the config, optionally forget the facts from
    ``since`` on (``rederive_all``; from the first sample when ``since`` is None), then derive
    day by day up to ``until`` (default now), calling ``progress(done, total)`` in seconds."""
    until = until or datetime.now(UTC)
    units = units_of(plant, line)
    sync_plant(conn, plant, datetime.now(UTC))
    _synced[id(plant)] = (plant, conn.info.dsn)
    tags = tag_ids(conn)
    # Late batches: re-derived from their first sample (left for `run` to see too when only
    # some units are derived here).
    late = _take_pending(conn) if line is None else scalar(conn, "SELECT min(first_time) FROM derive_pending")
    for unit_id in units:
        reaches = scalar(conn, "SELECT max(last_time) FROM derive_watermarks WHERE equipment_id = %s", (unit_id,))
        forget_from = since or datetime(1970, 1, 1, tzinfo=UTC) if rederive_all else None
        if late is not None and reaches is not None and late <= reaches:
            forget_from = min(forget_from, late) if forget_from else late
        if forget_from is not None:
            with conn.transaction():
                rewind_unit(conn, unit_id, tags, forget_from)
    starts = [t for t in (earliest_underived(conn, u, tags) for u in units) if t is not None]
    start = min(starts) if starts else None
    result = CatchUp(units, start, until)
    if start is None or start > until:
        result.start = None
        return result
    total = (until - start).total_seconds()
    horizon = start
    while horizon < until:
        horizon = min(horizon + step, until)
        report = run_once(conn, plant, now=horizon, only=set(units))
        result.errors.extend(report.errors)
        if progress:
            progress((horizon - start).total_seconds(), total)
    return result
