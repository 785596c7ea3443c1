"""The equipment model (ISA-95: enterprise, site, area, line, work cell) and its config sync.

Every MES record points at an equipment row, so the config's hierarchy and each
work unit's derivation settings (state code map, counter tags, micro-stop
threshold, stale timeout) are mirrored into the database. Lines keep their
config id; areas are ``_area.<id>``; work cells ``<line>.<equipment>`` (a dot, so
the id fits in a URL path).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from collectors.config.models import Equipment, Line, LineBindings, Plant, Tag
from mes.db import first, rows

ENTERPRISE_ID = "_enterprise"
SUBSCRIBED_STALE_SECONDS = 86_400.0
SITE_ID = "_site"


def area_id(area: str) -> str:
    return f"_area.{area}"


def work_cell_id(line: str, equipment: str) -> str:
    return f"{line}.{equipment}"


@dataclass(frozen=True)
class WorkUnit:
    """A line or work cell with bindings: what derivation runs for."""

    id: str
    line_id: str
    bindings: LineBindings


def work_units(plant: Plant) -> list[WorkUnit]:
    """Lines and work cells that have at least one bound tag."""
    units: list[WorkUnit] = []
    for line in plant.lines():
        if _has_bindings(line.bindings):
            units.append(WorkUnit(line.id, line.id, line.bindings))
        for eq in line.equipment:
            if _has_bindings(eq.bindings):
                units.append(WorkUnit(work_cell_id(line.id, eq.id), line.id, eq.bindings))
    return units


def _has_bindings(bindings: LineBindings) -> bool:
    return any(getattr(bindings, name) is not None for name in LineBindings.model_fields)


def stale_seconds(tag: Tag | None, plant: Plant) -> float:
    """How long a state sample stays true without a newer one. A polled value is re-stored at
    least every ``heartbeat`` s, so two missed heartbeats (or three poll cycles) mean the data
    is gone. A subscribed value only changes on news; a lost connection arrives as a
    bad-quality sample, so silence is trusted for a day."""
    if tag is None:
        return 130.0
    if tag.mode == "subscribe":
        return SUBSCRIBED_STALE_SECONDS
    interval = poll_interval(tag, plant)
    return max(2 * tag.heartbeat + interval if tag.heartbeat > 0 else 0, 3 * interval, 5.0)


def poll_interval(tag: Tag, plant: Plant) -> float:
    """Seconds between reads of a polled tag (its poll group's interval)."""
    try:
        conn = plant.connection(tag.connection)
    except KeyError:
        return 1.0
    return next((g.interval for g in conn.poll_groups if g.name == tag.group), 1.0)


def state_holding(plant: Plant) -> list[tuple[str, str, float, str]]:
    """Per work unit with a state tag: (unit, tag, seconds a reading holds, where that comes
    from), as ``linebrain check`` prints it."""
    tags = {tag.name: tag for tag in plant.tags}
    found = []
    for line in plant.lines():
        units = [(line.id, line.bindings)] + [(work_cell_id(line.id, eq.id), eq.bindings) for eq in line.equipment]
        for unit_id, bindings in units:
            if bindings.state is None:
                continue
            tag = tags.get(bindings.state.tag)
            if line.state_stale_after is not None:
                seconds, how = line.state_stale_after, "state_stale_after"
            elif tag is not None and tag.mode == "subscribe":
                seconds, how = SUBSCRIBED_STALE_SECONDS, "subscribed: silence means no change"
            else:
                seconds = stale_seconds(tag, plant)
                how = (f"2 x heartbeat {tag.heartbeat:g} s + poll {poll_interval(tag, plant):g} s, at least 3 polls "
                       "and 5 s") if tag else "default"  # fmt: skip
            found.append((unit_id, bindings.state.tag, seconds, how))
    return found


UPSERT_EQUIPMENT = """
INSERT INTO equipment (id, parent_id, level, name, line_id, timezone, shift_pattern, micro_stop_seconds,
                       minor_stop_loss, state_tag, fault_code_tag, state_default, state_stale_seconds,
                       order_number_tag, default_pru, max_rate, auto_create_orders, auto_create_product,
                       auto_create_quantity, active, updated_at)
VALUES (%(id)s, %(parent_id)s, %(level)s, %(name)s, %(line_id)s, %(timezone)s, %(shift_pattern)s,
        %(micro_stop_seconds)s, %(minor_stop_loss)s, %(state_tag)s, %(fault_code_tag)s, %(state_default)s,
        %(state_stale_seconds)s, %(order_number_tag)s, %(default_pru)s, %(max_rate)s, %(auto_create_orders)s,
        %(auto_create_product)s, %(auto_create_quantity)s, true, now())
ON CONFLICT (id) DO UPDATE SET
    parent_id = EXCLUDED.parent_id, level = EXCLUDED.level, name = EXCLUDED.name, line_id = EXCLUDED.line_id,
    timezone = EXCLUDED.timezone, shift_pattern = EXCLUDED.shift_pattern,
    micro_stop_seconds = EXCLUDED.micro_stop_seconds, minor_stop_loss = EXCLUDED.minor_stop_loss,
    state_tag = EXCLUDED.state_tag, fault_code_tag = EXCLUDED.fault_code_tag,
    state_default = EXCLUDED.state_default, state_stale_seconds = EXCLUDED.state_stale_seconds,
    order_number_tag = EXCLUDED.order_number_tag, default_pru = EXCLUDED.default_pru,
    max_rate = EXCLUDED.max_rate, auto_create_orders = EXCLUDED.auto_create_orders,
    auto_create_product = EXCLUDED.auto_create_product, auto_create_quantity = EXCLUDED.auto_create_quantity,
    active = true, updated_at = now()
"""


def _row(eq_id: str, parent: str | None, level: str, name: str, tz: str, **settings: object) -> dict:
    row = {
        "id": eq_id, "parent_id": parent, "level": level, "name": name, "line_id": None, "timezone": tz,
        "shift_pattern": None, "micro_stop_seconds": 30.0, "minor_stop_loss": "performance", "state_tag": None,
        "fault_code_tag": None, "state_default": "unknown", "state_stale_seconds": 130.0,
        "order_number_tag": None, "default_pru": None, "max_rate": None, "auto_create_orders": False,
        "auto_create_product": None, "auto_create_quantity": None,
    }  # fmt: skip
    row.update(settings)  # type: ignore[arg-type]  # the unit's settings: numbers, texts, flags
    return row


def _unit_settings(plant: Plant, line: Line, bindings: LineBindings) -> dict:
    tags = {tag.name: tag for tag in plant.tags}
    state = bindings.state
    line_products = [p for p in plant.products if line.id in p.ideal_cycle_time]
    cycle_times = [p.ideal_cycle_time[line.id] for p in line_products]
    orders = line.orders
    auto_product = (orders.product if orders and orders.product
                    else line_products[0].id if len(line_products) == 1 else None)
    stale = line.state_stale_after or stale_seconds(tags.get(state.tag) if state else None, plant)
    return {
        "line_id": line.id,
        "shift_pattern": line.shift_pattern,
        "micro_stop_seconds": line.micro_stop_seconds,
        "minor_stop_loss": line.minor_stop_loss,
        "state_tag": state.tag if state else None,
        "fault_code_tag": state.fault_code_tag if state else None,
        "state_default": state.default.value if state else "unknown",
        "state_stale_seconds": stale,
        "order_number_tag": bindings.order_number,
        # Counts made without an order are valued at the line's fastest product rate.
        "default_pru": min(cycle_times) if cycle_times else None,
        "max_rate": max_rate(line, cycle_times),
        "auto_create_orders": bool(orders and orders.auto_create),
        "auto_create_product": auto_product,
        "auto_create_quantity": orders.planned_quantity if orders else None,
    }


def max_rate(line: Line, cycle_times: list[float]) -> float | None:
    """Units per second the line can make at most: its configured ``max_rate`` (per minute), else
    twice its fastest ideal rate. A counter rising faster is not production (see counts)."""
    if line.max_rate is not None:
        return line.max_rate / 60.0
    return 2.0 / min(cycle_times) if cycle_times else None


def equipment_rows(plant: Plant) -> list[dict]:
    """The hierarchy as rows, parents before children."""
    tz = plant.site.timezone
    rows = [
        _row(ENTERPRISE_ID, None, "enterprise", plant.site.enterprise, tz),
        _row(SITE_ID, ENTERPRISE_ID, "site", plant.site.name, tz),
    ]
    for area in plant.areas:
        rows.append(_row(area_id(area.id), SITE_ID, "area", area.name or area.id, tz))
        for line in area.lines:
            rows.append(_row(line.id, area_id(area.id), "line", line.name or line.id, tz,
                             **_unit_settings(plant, line, line.bindings)))
            for eq in line.equipment:
                rows.append(_work_cell_row(plant, line, eq, tz))
    return rows


def _work_cell_row(plant: Plant, line: Line, eq: Equipment, tz: str) -> dict:
    return _row(work_cell_id(line.id, eq.id), line.id, "work_cell", eq.name or eq.id, tz,
                **_unit_settings(plant, line, eq.bindings))


def sync_equipment(conn: psycopg.Connection, plant: Plant) -> None:
    """Upsert the hierarchy, state code maps and counter bindings; equipment no longer in
    the config is marked inactive (its history stays)."""
    rows = equipment_rows(plant)
    with conn.cursor() as cur:
        cur.executemany(UPSERT_EQUIPMENT, rows)
        ids = [row["id"] for row in rows]
        cur.execute("UPDATE equipment SET active = false WHERE NOT (id = ANY(%s))", (ids,))
        for unit in work_units(plant):
            cur.execute("DELETE FROM state_codes WHERE equipment_id = %s", (unit.id,))
            cur.execute("DELETE FROM counter_bindings WHERE equipment_id = %s", (unit.id,))
            if unit.bindings.state is not None:
                cur.executemany(
                    "INSERT INTO state_codes (equipment_id, code, state) VALUES (%s, %s, %s)",
                    [(unit.id, code, state.value) for state, codes in unit.bindings.state.codes.items()
                     for code in codes],
                )
            counters = [
                ("good", unit.bindings.good_count), ("reject", unit.bindings.reject_count),
                ("total", unit.bindings.total_count), ("rework", unit.bindings.rework_count),
            ]  # fmt: skip
            for kind, binding in counters:
                if binding is not None:
                    cur.execute(
                        "INSERT INTO counter_bindings (equipment_id, kind, tag, bits, reset_threshold) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        (unit.id, kind, binding.tag, binding.bits, binding.reset_threshold),
                    )
            if unit.bindings.energy is not None:
                # An energy meter only ever resets (64-bit: a wrap never happens in practice;
                # a zero wrap share makes every drop a reset).
                cur.execute(
                    "INSERT INTO counter_bindings (equipment_id, kind, tag, bits, reset_threshold) "
                    "VALUES (%s, 'energy', %s, 64, 0)",
                    (unit.id, unit.bindings.energy),
                )
            meter = unit.bindings.energy_meter
            if meter is not None:  # a meter that rolls over at a reading, not at 2^bits (mes/sql 0301)
                cur.execute(
                    "INSERT INTO counter_bindings (equipment_id, kind, tag, bits, reset_threshold, wraps_at) "
                    "VALUES (%s, 'energy', %s, 64, %s, %s)",
                    (unit.id, meter.tag, meter.reset_threshold if meter.wraps_at else 0, meter.wraps_at),
                )


def list_equipment(conn: psycopg.Connection, level: str | None = None) -> list[dict]:
    """Active equipment rows (optionally one level), parents first."""
    return rows(
        conn,
        "SELECT id, parent_id, level, name, line_id, timezone, shift_pattern, micro_stop_seconds, "
        "minor_stop_loss FROM equipment WHERE active AND (%(level)s::text IS NULL OR level = %(level)s) "
        "ORDER BY array_position(ARRAY['enterprise','site','area','line','work_cell'], level), id",
        {"level": level},
    )


def get_unit(conn: psycopg.Connection, unit_id: str) -> dict:
    """One line or work cell, or :class:`~mes.errors.NotFound`."""
    from mes.errors import NotFound

    row = first(conn, "SELECT * FROM equipment WHERE id = %s AND level IN ('line', 'work_cell')", (unit_id,))
    if row is None:
        raise NotFound(f"no line or work cell {unit_id!r} in the database (lines come from the plant config: "
                       "`linebrain import --config plant.yaml` or `linebrain derive --config plant.yaml` load it)",
                       field="line")
    return row
