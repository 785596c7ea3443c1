"""A tiny control channel: fault injection and ground truth for a simulator in another process.

Newline-delimited JSON over TCP on the simulator's host. Each request is an
object with ``op`` and that operation's arguments, each answer
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}``::

    {"op": "power", "machine": "filler", "on": false}
    {"op": "modbus_exception", "code": 6, "unit_id": 2}
    {"op": "status"}

Operations mirror the :class:`Simulator` methods: ``status``, ``point``,
``power``, ``stop_answering``, ``answer_slowly``, ``modbus_exception``,
``drop_connections``, ``restart_opcua``, ``clear_faults``, ``advance``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from simulator.model import CounterTruth
from simulator.points import Point


class Controllable(Protocol):
    """What the control channel drives: the :class:`~simulator.simulator.Simulator`'s public face.

    Declared here so this module does not import the simulator that imports it.
    """

    models: dict[str, Any]

    @property
    def events(self) -> list[Any]: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def now(self) -> datetime: ...
    @property
    def modbus_port(self) -> int | None: ...
    @property
    def opcua_endpoint(self) -> str | None: ...
    @property
    def machines(self) -> list[str]: ...
    @property
    def scale_cycle(self) -> int: ...
    def total_changes(self) -> int: ...
    def counters(self, machine: str) -> CounterTruth: ...
    def point(self, name: str) -> Point: ...
    def power(self, machine: str, on: bool) -> None: ...
    def stop_answering(self, protocol: str = ..., unit_id: int | None = ...) -> None: ...
    def answer_slowly(self, delay: float, protocol: str = ..., unit_id: int | None = ...) -> None: ...
    def modbus_exception(self, code: int, unit_id: int | None = ...) -> None: ...
    def drop_connections(self, protocol: str = ...) -> int: ...
    async def restart_opcua(self, downtime: float = ...) -> None: ...
    def clear_faults(self) -> None: ...
    async def advance(self, seconds: float) -> None: ...


class ControlServer:
    def __init__(self, sim: Controllable, host: str, port: int) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                writer.write(json.dumps(await self.handle(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def handle(self, line: bytes) -> dict[str, Any]:
        """One request line → one answer object."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object with 'op'")
            args = dict(request)
            op = args.pop("op", None)
            handler = getattr(self, f"_op_{op}", None)
            if handler is None:
                raise ValueError(f"unknown op {op!r}")
            return {"ok": True, "result": await handler(**args)}
        except Exception as exc:  # every failure becomes an answer; the channel stays up
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _op_status(self) -> dict[str, Any]:
        sim = self.sim
        counters = {}
        if "brewery" in sim.models:
            counters = {m: asdict(sim.counters(m)) for m in ("filler", "capper", "labeller", "packer")}
        return {
            "elapsed": sim.elapsed,
            "now": sim.now.isoformat(),
            "modbus_port": sim.modbus_port,
            "opcua_endpoint": sim.opcua_endpoint,
            "machines": sim.machines,
            "scale_cycle": sim.scale_cycle,
            "total_changes": sim.total_changes(),
            "counters": counters,
            "events": len(sim.events),
        }

    async def _op_point(self, name: str) -> dict[str, Any]:
        point = self.sim.point(name)
        return {"value": point.value, "good": point.good, "changes": point.changes,
                "time": point.time.isoformat() if point.time else None}

    async def _op_power(self, machine: str, on: bool) -> None:
        self.sim.power(machine, bool(on))

    async def _op_stop_answering(self, protocol: str = "modbus", unit_id: int | None = None) -> None:
        self.sim.stop_answering(protocol, unit_id)

    async def _op_answer_slowly(self, delay: float, protocol: str = "modbus", unit_id: int | None = None) -> None:
        self.sim.answer_slowly(float(delay), protocol, unit_id)

    async def _op_modbus_exception(self, code: int, unit_id: int | None = None) -> None:
        self.sim.modbus_exception(int(code), unit_id)

    async def _op_drop_connections(self, protocol: str = "both") -> int:
        return self.sim.drop_connections(protocol)

    async def _op_restart_opcua(self, downtime: float = 0.0) -> None:
        await self.sim.restart_opcua(float(downtime))

    async def _op_clear_faults(self) -> None:
        self.sim.clear_faults()

    async def _op_advance(self, seconds: float) -> float:
        await self.sim.advance(float(seconds))
        return self.sim.elapsed
