"""``linebrain simulate``: realistic plant lines over OPC UA and Modbus TCP, until stopped."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mes.cli.common import console, err_console

SECURITY_HELP = "OPC UA security: None, Basic256Sha256_Sign, Basic256Sha256_SignAndEncrypt (repeat the option)."


def simulate(
    scenario: Annotated[str, typer.Option(help="brewery, process, utilities, motors or all (comma-separated "
                                              "too).")] = "all",
    speed: Annotated[float, typer.Option(help="Simulated seconds per second (60: an hour per minute).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every random event: same seed and speed, same events.")] = 1,
    start: Annotated[
        str | None, typer.Option(help="Simulated start time, ISO 8601 (default: now); fixes break times too.")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    opcua_port: Annotated[int, typer.Option(help="OPC UA port (0: a free port, -1: no OPC UA server).")] = 4840,
    modbus_port: Annotated[int, typer.Option(help="Modbus TCP port (0: a free port, -1: no Modbus server).")] = 5020,
    tags: Annotated[int, typer.Option(help="Scale mode: this many extra changing tags on each protocol.")] = 0,
    scale_interval: Annotated[float, typer.Option(help="Seconds between changes of the scale tags.")] = 1.0,
    order_minutes: Annotated[float, typer.Option(help="Brewery: simulated minutes per work order.")] = 120.0,
    max_nodes_per_read: Annotated[int, typer.Option(help="OPC UA MaxNodesPerRead, enforced (0: none).")] = 0,
    max_monitored_items_per_call: Annotated[
        int, typer.Option(help="OPC UA MaxMonitoredItemsPerCall, enforced (0: none).")
    ] = 0,
    security: Annotated[list[str] | None, typer.Option(help=SECURITY_HELP)] = None,
    user: Annotated[list[str] | None, typer.Option(help="OPC UA user as NAME:PASSWORD (repeatable).")] = None,
    anonymous: Annotated[bool, typer.Option(help="Allow anonymous OPC UA sessions.")] = True,
    cert_dir: Annotated[
        Path | None, typer.Option(help="Folder for the server certificate (generated when missing).")
    ] = None,
    control_port: Annotated[
        int, typer.Option(help="JSON-lines control channel for fault injection (0: a free port, -1: none).")
    ] = -1,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")] = None,
    describe: Annotated[bool, typer.Option("--describe", help="Print the register map and node tree; exit.")] = False,
) -> None:
    """Start the line simulator: OPC UA on opc.tcp://127.0.0.1:4840, Modbus TCP on 127.0.0.1:5020.

    Examples: linebrain simulate --scenario brewery --speed 60 --seed 7;
    linebrain simulate --describe; linebrain simulate --tags 20000 --max-nodes-per-read 1000
    """
    from simulator import OperationLimits, Simulator, SimulatorOptions

    users: dict[str, str] = {}
    for entry in user or []:
        name, sep, password = entry.partition(":")
        if not sep or not name:
            err_console.print(f"--user {entry!r}: expected NAME:PASSWORD")
            raise typer.Exit(2)
        users[name] = password
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        err_console.print(f"--duration must be a positive finite number of seconds, not {duration!r}")
        raise typer.Exit(2)
    try:
        start_time = _parse_start(start)
        options = SimulatorOptions(
            scenario=scenario,
            seed=seed,
            speed=speed,
            start=start_time,
            host=host,
            opcua_port=None if opcua_port < 0 else opcua_port,
            modbus_port=None if modbus_port < 0 else modbus_port,
            tags=tags,
            scale_interval=scale_interval,
            order_minutes=order_minutes,
            limits=OperationLimits(max_nodes_per_read=max_nodes_per_read,
                                   max_monitored_items_per_call=max_monitored_items_per_call),
            security=tuple(security or ("None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt")),
            users=users,
            allow_anonymous=anonymous,
            cert_dir=cert_dir,
            control_port=None if control_port < 0 else control_port,
        )
        simulator = Simulator(options)
    except ValueError as exc:
        err_console.print(str(exc))
        raise typer.Exit(2) from None
    if describe:
        console.print(simulator.describe(), markup=False, highlight=False, soft_wrap=True)
        return
    try:
        asyncio.run(_run(simulator, duration))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        err_console.print(f"cannot start the simulator: {exc}")
        raise typer.Exit(1) from None


def _parse_start(text: str | None) -> datetime | None:
    """An ISO 8601 time; without a zone it is UTC."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--start {text!r}: expected an ISO 8601 time such as 2026-01-05T07:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _run(simulator, duration: float | None) -> None:
    async with simulator:
        if simulator.modbus_port is not None:
            console.print(f"Modbus TCP on {simulator.options.host}:{simulator.modbus_port}", highlight=False)
        if simulator.opcua_endpoint is not None:
            console.print(f"OPC UA on {simulator.opcua_endpoint}", highlight=False)
        if simulator.control_port is not None:
            console.print(f"control channel on {simulator.options.host}:{simulator.control_port}", highlight=False)
        console.print(f"scenario {simulator.options.scenario}, speed {simulator.options.speed:g}, "
                      f"seed {simulator.options.seed}; Ctrl-C stops", highlight=False)
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
