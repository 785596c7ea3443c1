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
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from collectors.config.models import Plant
from collectors.database.tags import tag_ids
from mes.db import first, rows
from mes.production.counts import counter_rule, derive_counts, rewind_counts
from mes.production.downtime import derive_events
from mes.production.equipment import work_units
from mes.production.orders import follow_order_tag
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


def run_once(conn: psycopg.Connection, plant: Plant, now: datetime | None = None) -> DeriveReport:
    """Derive everything new for every bound line and work cell of ``plant``.

    ``conn`` must be in autocommit mode (each unit is its own transaction, so one
    unit's bad data cannot hold back the others). ``now`` is the horizon of the
    provisional state tail (default: the current time). The plant is synced into
    the database on the first call for that plant object."""
    now = now or datetime.now(UTC)
    report = DeriveReport()
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
        report.skipped = True
        return report
    try:
        key = conn.info.dsn
        if _synced.get(id(plant)) != (plant, key):
            sync_plant(conn, plant, now)
            _synced[id(plant)] = (plant, key)
        else:
            extend_calendar(conn, plant, now)
        tags = tag_ids(conn)
        for unit in work_units(plant):
            try:
                with conn.transaction():
                    derive_unit(conn, unit.id, tags, now)
                report.units.append(unit.id)
            except psycopg.Error as exc:  # keep the others going; say which unit failed
                log.exception("derivation failed for %s", unit.id)
                report.errors.append(f"{unit.id}: {exc}")
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return report


def derive_unit(conn: psycopg.Connection, unit_id: str, tags: dict[str, int], now: datetime) -> None:
    """All streams of one unit, in dependency order."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM equipment WHERE id = %s", (unit_id,))
        unit = cur.fetchone()
        cur.execute("SELECT kind, tag, bits, reset_threshold FROM counter_bindings WHERE equipment_id = %s "
                    "ORDER BY kind", (unit_id,))
        counters = cur.fetchall()
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


def forget_sync(plant: Plant | None = None) -> None:
    """Make the next run_once sync the plant again (after a config reload)."""
    if plant is None:
        _synced.clear()
    else:
        _synced.pop(id(plant), None)


def rederive(conn: psycopg.Connection, plant: Plant, unit_id: str, since: datetime,
             now: datetime | None = None) -> None:
    """Derive one unit again from ``since`` on: for samples that arrived late (older than
    the watermarks) or after a code-map change. Derived rows after ``since`` are replaced;
    people's records (orders, reason assignments, corrections) are kept."""
    now = now or datetime.now(UTC)
    tags = tag_ids(conn)
    with conn.transaction():
        unit = first(conn, "SELECT * FROM equipment WHERE id = %s", (unit_id,))
        if unit is None:
            raise ValueError(f"no unit {unit_id!r}")
        if unit["state_tag"] in tags:
            _rewind(conn, unit_id, "state", tags[unit["state_tag"]], since)
        for binding in rows(conn, "SELECT kind, tag, bits, reset_threshold FROM counter_bindings "
                            "WHERE equipment_id = %s", (unit_id,)):  # fmt: skip
            if binding["tag"] in tags:
                rewind_counts(conn, unit_id, binding["kind"], tags[binding["tag"]], counter_rule(binding, unit),
                              since)  # fmt: skip
        conn.execute(
            "DELETE FROM count_buckets WHERE equipment_id = %s AND good = 0 AND reject = 0 AND total = 0 "
            "AND rework = 0 AND energy = 0", (unit_id,))  # fmt: skip
        derive_unit(conn, unit_id, tags, now)


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
