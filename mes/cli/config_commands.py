"""``linebrain check`` and ``linebrain plan``: validate a plant config and show what it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from collectors.config.models import ModbusConnection, OpcuaConnection, S7Connection
from mes.cli.common import console, load_config_or_exit


def check(
    configs: Annotated[list[Path], typer.Argument(help="One or more plant config files.", show_default=False)],
) -> None:
    """Validate plant config files. Exit 0 when all are valid, 2 otherwise; each error names
    file, line and field.

    Example: linebrain check examples/*.yaml
    """
    from mes.production.equipment import state_holding

    failed = False
    for path in configs:
        try:
            plant = load_config_or_exit(path)
        except typer.Exit:
            failed = True
            continue
        lines = sum(len(area.lines) for area in plant.areas)
        console.print(
            f"{path}: ok — site {plant.site.name} ({plant.site.timezone}), {lines} lines, "
            f"{len(plant.connections)} connections, {len(plant.tags)} tags"
        )
        if plant.alarms.rules:
            from mes.alarms.engine import AlarmEngine

            points = len(AlarmEngine(plant).conditions)
            console.print(f"  alarms: {len(plant.alarms.rules)} rules on {points} alarm points (rule × tag)")
        for unit, tag, seconds, how in state_holding(plant):
            console.print(f"  {unit}: state tag {tag} holds a reading {seconds:g} s, then no data ({how})",
                          markup=False, highlight=False)
    if failed:
        raise typer.Exit(2)


def plan(config: Annotated[Path, typer.Argument(help="Plant config file.", show_default=False)]) -> None:
    """Show what will be read, per connection: the Modbus requests (unit, function, address,
    count, tags) or the OPC UA node lists, with counts.

    Example: linebrain plan examples/brewery.yaml
    """
    from collectors.plan import plant_plan

    plant = load_config_or_exit(config)
    for item in plant_plan(plant):
        conn = item.connection
        if item.modbus_requests and isinstance(conn, ModbusConnection):
            table = Table(title=f"{conn.id} (modbus {conn.transport.value}) — {item.tag_count} tags, "
                          f"{len(item.modbus_requests)} requests per cycle")
            for column in ("group", "unit", "FC", "address", "count", "tags"):
                table.add_column(column)
            for req in item.modbus_requests:
                names = ", ".join(t.name for t in req.tags[:4]) + (" …" if len(req.tags) > 4 else "")
                table.add_row(req.group, str(req.unit_id), str(req.function_code), str(req.address),
                              str(req.count), f"{len(req.tags)}: {names}")
            console.print(table)
        elif (item.opcua_polled or item.opcua_subscribed) and isinstance(conn, OpcuaConnection):
            console.print(f"[bold]{conn.id}[/] (opcua {conn.endpoint}) — {item.tag_count} tags")
            for kind, groups in (("poll", item.opcua_polled), ("subscribe", item.opcua_subscribed)):
                for group, nodes in groups.items():
                    console.print(f"  {kind} group {group}: {len(nodes)} nodes")
                    for node in nodes:
                        console.print(f"    {node}", markup=False, highlight=False)
        elif any(item.s7_requests.values()) and isinstance(conn, S7Connection):
            console.print(f"[bold]{conn.id}[/] (s7 {conn.host}) — {item.tag_count} tags, requests planned for a "
                          f"{conn.pdu_size}-byte PDU (the PLC may grant less)")
            for group, requests in item.s7_requests.items():
                console.print(f"  poll group {group}: {len(requests)} requests per cycle")
                for number, request in enumerate(requests, 1):
                    blocks = "; ".join(str(block) for block in request.blocks)
                    console.print(f"    {number}: {blocks}", markup=False, highlight=False)
        else:
            console.print(f"{conn.id}: no tags")


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("plan")(plan)
