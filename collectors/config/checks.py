"""Checks that look across a whole plant config.

Each check yields ``(location, message)`` so the loader can name the line and
field, e.g. ``tags[3].connection: unknown connection 'plc9'``.
"""

from __future__ import annotations

from collections.abc import Iterator

from collectors.config.alarms import alarm_checks
from collectors.config.models import (
    DataType,
    LineBindings,
    ModbusConnection,
    ModbusTable,
    OpcuaConnection,
    Plant,
    S7Connection,
    Tag,
)
from collectors.config.reports import report_checks
from collectors.errors import ConfigError

Loc = tuple[str | int, ...]
Finding = tuple[Loc, str]


def cross_checks(plant: Plant) -> list[Finding]:
    """Every cross-reference problem of the plant, in file order."""
    findings: list[Finding] = []
    for check in (_unique_names, _tag_references, _writable_tags, _line_references, _state_maps, _product_lines,
                  alarm_checks, report_checks):
        findings.extend(check(plant))
    findings.extend(_line_flows(plant))
    return findings


def _duplicates(names: list[str], loc_prefix: str, field: str, what: str) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            yield (loc_prefix, index, field), f"duplicate {what} {name!r} (first at {loc_prefix}[{seen[name]}])"
        else:
            seen[name] = index


def _unique_names(plant: Plant) -> Iterator[Finding]:
    yield from _duplicates([t.name for t in plant.tags], "tags", "name", "tag name")
    yield from _duplicates([c.id for c in plant.connections], "connections", "id", "connection id")
    yield from _duplicates([p.id for p in plant.products], "products", "id", "product id")
    yield from _duplicates([a.id for a in plant.areas], "areas", "id", "area id")
    yield from _duplicates([s.id for s in plant.shift_patterns], "shift_patterns", "id", "shift pattern id")
    seen_lines: dict[str, str] = {}
    for a, area in enumerate(plant.areas):
        for i, line in enumerate(area.lines):
            if line.id in seen_lines:
                yield ("areas", a, "lines", i, "id"), f"duplicate line id {line.id!r}"
            seen_lines[line.id] = area.id


def _tag_references(plant: Plant) -> Iterator[Finding]:
    connections = {c.id: c for c in plant.connections}
    for index, tag in enumerate(plant.tags):
        loc: Loc = ("tags", index)
        conn = connections.get(tag.connection)
        if conn is None:
            known = ", ".join(sorted(connections)) or "none defined"
            yield (*loc, "connection"), f"unknown connection {tag.connection!r} (known: {known})"
            continue
        if isinstance(conn, ModbusConnection):
            yield from _modbus_tag(tag, loc, conn)
        elif isinstance(conn, S7Connection):
            yield from _s7_tag(tag, loc, conn)
        else:
            yield from _opcua_tag(tag, loc, conn)


def _modbus_tag(tag, loc: Loc, conn: ModbusConnection) -> Iterator[Finding]:
    if tag.table is None:
        yield (*loc, "table"), "a Modbus tag needs table: coil, discrete_input, holding_register or input_register"
        return
    if tag.address is None:
        yield (*loc, "address"), "a Modbus tag needs a zero-based address"
        return
    if tag.node_id or tag.browse_path:
        yield (*loc, "node_id"), "node_id/browse_path are for OPC UA tags; this tag's connection is Modbus"
    groups = {g.name for g in conn.poll_groups}
    if tag.group not in groups:
        known = ", ".join(sorted(groups))
        yield (*loc, "group"), f"unknown poll group {tag.group!r} on connection {conn.id} (known: {known})"
    if tag.table.is_bit:
        if tag.data_type not in (DataType.bool, DataType.auto):
            yield (*loc, "data_type"), (
                f"{tag.table.value} holds single bits: data_type must be bool, not {tag.data_type.value}"
            )
        return
    if tag.data_type in (DataType.bool, DataType.auto):
        yield (*loc, "data_type"), "a register tag needs a data_type (int16, float32, bit, string, ...)"
        return
    if tag.data_type is DataType.bit and tag.bit is None:
        yield (*loc, "bit"), "data_type bit needs 'bit' (0..15): which bit of the register"
    if tag.data_type in (DataType.string, DataType.string_bytewise) and tag.length is None:
        yield (*loc, "length"), "a string tag needs 'length' in registers"
    last = tag.address + tag.register_count - 1
    if last > 65535:
        yield (*loc, "address"), (
            f"register {tag.address} + {tag.register_count} registers of {tag.data_type.value} "
            f"ends at {last}, out of range (max 65535)"
        )
    cap = conn.max_registers_per_request
    if tag.register_count > cap:
        yield (*loc, "length"), (
            f"{tag.register_count} registers exceed the connection's max_registers_per_request {cap}"
        )


def _s7_tag(tag, loc: Loc, conn: S7Connection) -> Iterator[Finding]:
    from collectors.drivers.s7.address import parse_address

    if not tag.s7_address:
        yield (*loc, "s7_address"), "an S7 tag needs s7_address (DB10,REAL4, M,X0.1, I,INT2, ...)"
        return
    try:
        parse_address(tag.s7_address)
    except ConfigError as exc:
        yield (*loc, "s7_address"), str(exc).removeprefix("s7_address: ")
    groups = {g.name for g in conn.poll_groups}
    if tag.group not in groups:
        known = ", ".join(sorted(groups))
        yield (*loc, "group"), f"unknown poll group {tag.group!r} on connection {conn.id} (known: {known})"


def _opcua_tag(tag, loc: Loc, conn: OpcuaConnection) -> Iterator[Finding]:
    if not tag.node_id and not tag.browse_path:
        yield (*loc, "node_id"), "an OPC UA tag needs node_id or browse_path"
    if tag.table is not None or tag.address is not None:
        yield (*loc, "address"), "table/address are for Modbus tags; this tag's connection is OPC UA"
    groups = {g.name for g in (conn.subscriptions if tag.mode == "subscribe" else conn.poll_groups)}
    if tag.group not in groups:
        kind = "subscription" if tag.mode == "subscribe" else "poll group"
        known = ", ".join(sorted(groups))
        yield (*loc, "group"), f"unknown {kind} {tag.group!r} on connection {conn.id} (known: {known})"


def _writable_tags(plant: Plant) -> Iterator[Finding]:
    """Write settings only on writable tags; writable only where the device can be written; limits
    inside the engineering range; numeric Modbus setpoints need limits (a write is checked against them)."""
    for index, tag in enumerate(plant.tags):
        loc: Loc = ("tags", index)
        if not tag.writable:
            for field in ("write_limits", "write_roles", "write_tolerance"):
                if getattr(tag, field):
                    yield (*loc, field), f"{field} is set but the tag is not writable (add writable: true)"
            continue
        if tag.table in (ModbusTable.input_register, ModbusTable.discrete_input):
            yield (*loc, "writable"), f"a {tag.table.value} cannot be written (only coils and holding registers)"
            continue
        if tag.write_limits is not None and tag.range is not None:
            (low, high), (range_low, range_high) = tag.write_limits, tag.range
            if low < range_low or high > range_high:
                yield (*loc, "write_limits"), (
                    f"write limits [{low:g}, {high:g}] reach outside the engineering range "
                    f"[{range_low:g}, {range_high:g}]"
                )
        numeric = tag.data_type not in (DataType.auto, DataType.bool, DataType.bit, DataType.string,
                                        DataType.string_bytewise)
        if tag.table is ModbusTable.holding_register and numeric and tag.write_limits is None:
            yield (*loc, "write_limits"), "a writable numeric register needs write_limits: [low, high]"
        if tag.s7_address:
            yield from _writable_s7_tag(tag, tag.s7_address, loc)


def _writable_s7_tag(tag: Tag, address: str, loc: Loc) -> Iterator[Finding]:
    """The S7 rules of a writable tag: never an input (the PLC rewrites its process image every scan);
    numbers need limits, as Modbus registers do. A malformed address is reported by the driver's check."""
    area, _, rest = address.replace(" ", "").upper().partition(",")
    if area == "I":
        yield (*loc, "writable"), "an S7 input (I) cannot be written (only DB, M and Q addresses)"
    elif not rest.startswith(("X", "STRING", "WSTRING", "DT")) and tag.write_limits is None:
        yield (*loc, "write_limits"), "a writable numeric S7 tag needs write_limits: [low, high]"


def _binding_tags(bindings: LineBindings, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if bindings.state is not None:
        yield (*loc, "state", "tag"), bindings.state.tag
        if bindings.state.fault_code_tag:
            yield (*loc, "state", "fault_code_tag"), bindings.state.fault_code_tag
    for field in ("good_count", "reject_count", "total_count", "rework_count"):
        counter = getattr(bindings, field)
        if counter is not None:
            yield (*loc, field, "tag"), counter.tag
    for field in ("speed", "energy", "order_number"):
        name = getattr(bindings, field)
        if name is not None:
            yield (*loc, field), name
    if bindings.energy_meter is not None:
        yield (*loc, "energy_meter", "tag"), bindings.energy_meter.tag


def _all_bindings(plant: Plant) -> Iterator[tuple[Loc, LineBindings]]:
    for a, area in enumerate(plant.areas):
        for i, line in enumerate(area.lines):
            yield ("areas", a, "lines", i, "bindings"), line.bindings
            for e, equipment in enumerate(line.equipment):
                yield ("areas", a, "lines", i, "equipment", e, "bindings"), equipment.bindings


def _line_references(plant: Plant) -> Iterator[Finding]:
    tags = {t.name for t in plant.tags}
    patterns = {p.id for p in plant.shift_patterns}
    products = {p.id for p in plant.products}
    for loc, bindings in _all_bindings(plant):
        for field_loc, name in _binding_tags(bindings, loc):
            if name not in tags:
                yield field_loc, f"unknown tag {name!r}"
        if bindings.energy is not None and bindings.energy_meter is not None:
            yield (*loc, "energy_meter"), "bind energy or energy_meter, not both (one meter per unit)"
    for a, area in enumerate(plant.areas):
        for i, line in enumerate(area.lines):
            if line.shift_pattern and line.shift_pattern not in patterns:
                yield ("areas", a, "lines", i, "shift_pattern"), f"unknown shift pattern {line.shift_pattern!r}"
            if line.orders and line.orders.product and line.orders.product not in products:
                yield ("areas", a, "lines", i, "orders", "product"), f"unknown product {line.orders.product!r}"


def _state_maps(plant: Plant) -> Iterator[Finding]:
    for loc, bindings in _all_bindings(plant):
        if bindings.state is None:
            continue
        owner: dict[int, str] = {}
        for state, codes in bindings.state.codes.items():
            for code in codes:
                if code in owner and owner[code] != state.value:
                    yield (*loc, "state", "codes", state.value), (
                        f"code {code} is mapped to both {owner[code]} and {state.value}"
                    )
                owner.setdefault(code, state.value)


def _product_lines(plant: Plant) -> Iterator[Finding]:
    lines = {line.id for line in plant.lines()}
    for p, product in enumerate(plant.products):
        for line_id in product.ideal_cycle_time:
            if line_id not in lines:
                yield ("products", p, "ideal_cycle_time", line_id), f"unknown line {line_id!r}"


def _line_flows(plant: Plant) -> Iterator[Finding]:
    """A line's ``flow`` and ``constraint`` name its own machines; the constraint has a state tag."""
    for a, area in enumerate(plant.areas):
        for i, line in enumerate(area.lines):
            loc: Loc = ("areas", a, "lines", i)
            machines = {eq.id: eq for eq in line.equipment}
            known = ", ".join(machines) or "none defined"
            for f, machine in enumerate(line.flow):
                if machine not in machines:
                    yield (*loc, "flow", f), f"unknown equipment {machine!r} (equipment: {known})"
                elif machine in line.flow[:f]:
                    yield (*loc, "flow", f), f"{machine!r} is in the flow twice"
            if line.constraint is None:
                continue
            if line.constraint not in machines:
                yield (*loc, "constraint"), f"unknown equipment {line.constraint!r} (equipment: {known})"
            elif machines[line.constraint].bindings.state is None:
                yield (*loc, "constraint"), f"{line.constraint!r} binds no state tag: its stops cannot be seen"
            elif line.flow and line.constraint not in line.flow:
                yield (*loc, "constraint"), f"{line.constraint!r} is not in the line's flow"


__all__ = ["cross_checks"]
