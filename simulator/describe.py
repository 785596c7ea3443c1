"""``linebrain simulate --describe``: the register map and the node tree as text."""

from __future__ import annotations

from collectors.config.models import DataType
from simulator.options import SimulatorOptions
from simulator.points import Point
from simulator.scale import FIRST_UNIT, TAGS_PER_FOLDER, TAGS_PER_UNIT

_TABLE_ORDER = {"coil": 0, "discrete_input": 1, "holding_register": 2, "input_register": 3}


def _encoding(point: Point) -> str:
    loc = point.modbus
    assert loc is not None
    if loc.table.is_bit:
        return "bool"
    text = loc.data_type.value
    if loc.data_type is DataType.bit:
        text = f"bit {loc.bit}"
    elif loc.data_type in (DataType.string, DataType.string_bytewise):
        text = f"string[{loc.length}]"
    elif loc.width > 1:
        text += f" {loc.byte_order.value}"
    if loc.scale != 1.0 or loc.offset != 0.0:
        text += f" ×{loc.scale:g}" + (f" {loc.offset:+g}" if loc.offset else "")
    return text


def register_map(points: list[Point]) -> list[str]:
    rows = [(p, p.modbus) for p in points if p.modbus is not None]
    rows.sort(key=lambda r: (r[1].unit_id, _TABLE_ORDER[r[1].table.value], r[1].address, r[1].bit or 0))
    lines = [f"{'unit':>4}  {'table':<16} {'addr':>5} {'n':>2}  {'encoding':<18} {'rw':<2}  {'unit':<12} point"]
    for p, loc in rows:
        lines.append(
            f"{loc.unit_id:>4}  {loc.table.value:<16} {loc.address:>5} {loc.width:>2}  {_encoding(p):<18} "
            f"{'rw' if p.writable else 'r':<2}  {p.unit:<12} {p.name}"
        )
    return lines


def node_tree(points: list[Point], namespace: int = 2) -> list[str]:
    lines = ["Objects", "  Plant"]
    shown: set[tuple[str, ...]] = set()
    for p in sorted((p for p in points if p.opcua), key=lambda p: p.name):
        folder = p.folder
        for depth in range(1, len(folder) + 1):
            path = folder[:depth]
            if path not in shown:
                shown.add(path)
                lines.append("  " * (depth + 1) + path[-1] + "/")
        extras = []
        if p.unit:
            extras.append(p.unit)
        if p.range:
            extras.append(f"EURange {p.range[0]:g}..{p.range[1]:g}")
        if p.writable:
            extras.append("writable")
        detail = f"  ({', '.join(extras)})" if extras else ""
        lines.append("  " * (len(folder) + 2) + f"{p.browse_name}: {p.opcua_type}  ns={namespace};s={p.name}{detail}")
    return lines


def describe(
    options: SimulatorOptions, points: list[Point], modbus_port: int | None, opcua_port: int | None, namespace: int
) -> str:
    """The register map and node tree of a simulator built from ``options``; ports are the bound ones, if any.

    Takes plain values rather than the simulator, so this module does not import it.
    """
    out = [f"LineBrain simulator: scenario {options.scenario}, seed {options.seed}, speed {options.speed:g}"]
    if modbus_port is not None or options.modbus_port is not None:
        out.append(f"Modbus TCP {options.host}:{modbus_port or options.modbus_port}")
    if opcua_port is not None or options.opcua_port is not None:
        port = opcua_port or options.opcua_port
        out.append(f"OPC UA opc.tcp://{options.host}:{port}  security {', '.join(options.security)}")
    limits = options.limits
    out.append(f"OperationLimits: MaxNodesPerRead {limits.max_nodes_per_read or 'none'}, "
               f"MaxMonitoredItemsPerCall {limits.max_monitored_items_per_call or 'none'}")
    out.append("")
    out.append("Modbus register map (zero-based addresses; engineering = raw × scale)")
    out.extend(register_map(points))
    if options.tags and "modbus" in options.scale_protocols:
        units = -(-options.tags // TAGS_PER_UNIT)
        out.append(f"scale: {options.tags} uint16 holding registers, units {FIRST_UNIT}..{FIRST_UNIT + units - 1}, "
                   f"{TAGS_PER_UNIT} per unit from address 0; tag i = unit {FIRST_UNIT} + i // {TAGS_PER_UNIT}, "
                   f"address i % {TAGS_PER_UNIT}")
    out.append("")
    out.append("OPC UA node tree (string node ids in namespace http://linebrain.dev/simulator)")
    out.extend(node_tree(points, namespace))
    if options.tags and "opcua" in options.scale_protocols:
        out.append(f"    Scale/G000..: {options.tags} UInt16 variables, {TAGS_PER_FOLDER} per folder, "
                   f"ns=2;s=Scale.G<i//{TAGS_PER_FOLDER}:03d>.T<i:05d>")
    return "\n".join(out)
