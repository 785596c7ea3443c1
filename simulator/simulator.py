"""The running simulator: scenario models on a simulated clock, served over Modbus TCP and OPC UA.

One asyncio task advances every model to the clock's simulated time each
``tick`` and publishes the points that changed; another steps the scale tags.
Tests drive it through this object: ports, fault switches, and the ground truth
(counts produced, state events, how often each point changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from asyncua import ua

from simulator.clock import SimClock
from simulator.control import ControlServer
from simulator.describe import describe
from simulator.faults import ModbusFaults, OpcuaFaults
from simulator.memory import paused_gc
from simulator.modbus_server import ModbusTcpServer
from simulator.model import CounterTruth, Model, StateEvent
from simulator.opcua_server import OpcuaServer
from simulator.options import SimulatorOptions
from simulator.points import Point, Value
from simulator.registers import UnitBank, build_banks
from simulator.scale import ScaleTags, scale_value
from simulator.scenarios import build_models

log = logging.getLogger(__name__)

# Intermediate publishes per step; a longer jump publishes its first events, then the end state.
MAX_EVENT_PUBLISHES = 5000


class Simulator:
    """Simulated plant lines behind real Modbus TCP and OPC UA servers.

    Use as ``async with Simulator(SimulatorOptions(...)) as sim:``; see
    ``simulator/README.md`` for the API and the ground truth it offers.
    """

    def __init__(self, options: SimulatorOptions | None = None, **overrides: Any) -> None:
        if options is None:
            options = SimulatorOptions(**overrides)
        elif overrides:
            options = replace(options, **overrides)
        options.validate()
        self.options = options
        self.clock = SimClock(options.speed, options.start or datetime.now(UTC))
        self.models: dict[str, Model] = build_models(options, self.clock.start)
        self.points: list[Point] = [p for model in self.models.values() for p in model.points]
        self._by_name = {p.name: p for p in self.points}
        for point in self.points:  # the initial values are the baseline of ``changes``
            point.published, point.dirty = point.value, False
        with paused_gc():
            self.scale = ScaleTags(options.tags, options.seed, options.scale_protocols) if options.tags else None
        self.modbus_faults = ModbusFaults()
        self.opcua_faults = OpcuaFaults()
        self.banks: dict[int, UnitBank] = build_banks(self.points)
        if self.scale is not None:
            self.banks.update(self.scale.banks)
        self._bank_of = {p: self.banks[p.modbus.unit_id] for p in self.points if p.modbus is not None}
        self._machine_units = {
            machine: {p.modbus.unit_id for p in points if p.modbus is not None}
            for model in self.models.values()
            for machine, points in model.machines.items()
        }
        self.modbus: ModbusTcpServer | None = None
        self.opcua: OpcuaServer | None = None
        self.control: ControlServer | None = None
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        self.publishes = 0
        self._uint16_variants: dict[int, ua.Variant] = {}
        self._forced: dict[Point, Value] = {}
        self.started = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start both servers and the clock tasks (ports 0 → free ports, see :attr:`modbus_port`)."""
        options = self.options
        try:
            if options.modbus_port is not None:
                self.modbus = ModbusTcpServer(self.banks, self.modbus_faults, self._modbus_write,
                                              options.host, options.modbus_port)
                await self.modbus.start()
            if options.opcua_port is not None:
                scale_points = self.scale.points if self.scale else []
                folders = self.scale.folders() if self.scale else []
                self.opcua = OpcuaServer(self.points + scale_points, options, self.opcua_faults,
                                         self._opcua_write, folders)
                await self.opcua.start()
                await self.opcua.publish(self.points)
            if options.control_port is not None:
                self.control = ControlServer(self, options.host, options.control_port)
                await self.control.start()
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._run_clock(), name="linebrain-sim-clock"))
        if self.scale is not None:
            self._tasks.append(asyncio.create_task(self._run_scale(), name="linebrain-sim-scale"))
        self.started = True

    async def stop(self) -> None:
        """Stop tasks and servers; every port is closed when this returns."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.control is not None:
            await self.control.stop()
        if self.modbus is not None:
            await self.modbus.stop()
        if self.opcua is not None:
            await self.opcua.stop()
            self.opcua.close_tempdir()
        self.started = False

    # ------------------------------------------------------------------ where to connect

    @property
    def modbus_port(self) -> int | None:
        return self.modbus.port if self.modbus else None

    @property
    def opcua_port(self) -> int | None:
        return self.opcua.port if self.opcua else None

    @property
    def control_port(self) -> int | None:
        return self.control.port if self.control else None

    @property
    def opcua_endpoint(self) -> str | None:
        return self.opcua.endpoint if self.opcua else None

    @property
    def opcua_namespace(self) -> int:
        return self.opcua.namespace if self.opcua else 2

    # ------------------------------------------------------------------ time

    @property
    def elapsed(self) -> float:
        """Simulated seconds since start."""
        return self.clock.elapsed()

    @property
    def now(self) -> datetime:
        """Simulated time (UTC); the source timestamp of values published now."""
        return self.clock.at(self.clock.elapsed())

    async def pause(self) -> None:
        """Stop the simulated clock and publish the values of that instant: from then on the
        ground truth (counters, points) stays what the servers serve."""
        self.clock.pause()
        await self.step()

    async def advance(self, seconds: float) -> None:
        """Jump simulated time forward by ``seconds`` and publish at once (deterministic tests use speed=0)."""
        self.clock.advance(seconds)
        await self.step()

    async def step(self) -> None:
        """Advance every model to the clock's time and publish what changed.

        Values are published at each discrete event on the way (up to
        ``MAX_EVENT_PUBLISHES`` per step), so a micro-stop shorter than a tick
        still reaches OPC UA subscribers with its own source timestamp.
        """
        async with self._lock:
            target = self.clock.elapsed()
            previous = -1.0
            for _ in range(MAX_EVENT_PUBLISHES):
                upcoming = [t for t in (m.next_event() for m in self.models.values()) if t is not None]
                event = min(upcoming, default=None)
                if event is None or event >= target or event <= previous:
                    break
                previous = event
                for model in self.models.values():
                    model.advance(event)
                await self._publish()
            for model in self.models.values():
                model.advance(target)
            await self._publish()

    async def _run_clock(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("simulator step failed")
            await asyncio.sleep(self.options.tick)

    async def _publish(self) -> None:
        for point, value in self._forced.items():
            point.set(value, self.now)
        changed = [p for p in self.points if p.dirty]
        if not changed:
            return
        self.publishes += 1
        for point in changed:
            point.dirty = False
            if point.value != point.published or point.good != point.published_good:
                point.changes += 1
            point.published, point.published_good = point.value, point.good
            bank = self._bank_of.get(point)
            if bank is not None:
                bank.store(point)
        if self.opcua is not None:
            await self.opcua.publish(changed)

    async def _run_scale(self) -> None:
        assert self.scale is not None
        while True:
            await asyncio.sleep(self.options.scale_interval)
            try:
                await self.step_scale()
            except Exception:
                log.exception("scale step failed")

    async def step_scale(self) -> None:
        """One change of every scale tag (the scale task calls this every ``scale_interval``)."""
        scale = self.scale
        if scale is None:
            return
        scale.step()
        if self.opcua is None or not scale.points:
            return
        # asyncua types its timestamps as ua.DateTime (a datetime subclass); a cast costs nothing here
        now, source = cast(ua.DateTime, datetime.now(UTC)), cast(ua.DateTime, self.now)
        variants = self._uint16_variants
        values = []
        with paused_gc():  # tens of thousands of acyclic values; old ones go by reference counting
            for point, value in zip(scale.points, scale.opcua_values(), strict=True):
                point.value = value
                variant = variants.get(value)
                if variant is None:  # Variants are immutable: one per uint16 value serves every tag and cycle
                    variant = variants[value] = ua.Variant(value, ua.VariantType.UInt16)
                values.append(ua.DataValue(variant, SourceTimestamp=source, ServerTimestamp=now))
        await self.opcua.publish_values(scale.points, values)

    # ------------------------------------------------------------------ writes from clients

    def _apply_write(self, point: Point, value: Value) -> bool:
        if point.write_limits is not None and isinstance(value, int | float) and not isinstance(value, bool):
            low, high = point.write_limits
            if not low <= value <= high:
                return False
        if isinstance(point.value, bool):
            value = bool(value)
        elif isinstance(point.value, float):
            value = float(value)
        point.set(value, self.now)
        return True

    def _modbus_write(self, point: Point, bank: UnitBank) -> bool:
        return self._apply_write(point, bank.value_in_bank(point))

    def _opcua_write(self, point: Point, value: Value) -> bool:
        accepted = self._apply_write(point, value)
        if accepted and point.modbus is not None:
            self._bank_of[point].store(point)
        return accepted

    # ------------------------------------------------------------------ fault injection

    async def force(self, name: str, value: Value) -> None:
        """Hold a point at ``value`` whatever its model does (a PLC's forced I/O), and publish it now."""
        self._forced[self._by_name[name]] = value
        await self.step()

    async def release(self, name: str) -> None:
        """End :meth:`force`: the model sets the point again from the next step."""
        self._forced.pop(self._by_name[name], None)
        await self.step()

    def stop_answering(self, protocol: str = "modbus", unit_id: int | None = None) -> None:
        """Modbus: read requests and never answer (for one unit or all). OPC UA: stop reading client data."""
        if protocol in ("modbus", "both"):
            self.modbus_faults.silent.add(unit_id)
        if protocol in ("opcua", "both") and self.opcua is not None:
            self.opcua.set_silent(True)

    def answer_slowly(self, delay: float, protocol: str = "modbus", unit_id: int | None = None) -> None:
        """Delay every answer by ``delay`` s (Modbus: per unit or all; OPC UA: Read and CreateMonitoredItems)."""
        if protocol in ("modbus", "both"):
            self.modbus_faults.delay[unit_id] = delay
        if protocol in ("opcua", "both"):
            self.opcua_faults.delay = delay

    def modbus_exception(self, code: int, unit_id: int | None = None) -> None:
        """Answer every request to ``unit_id`` (None: all) with Modbus exception ``code`` (6 busy, 2 bad address)."""
        if not 1 <= code <= 255:
            raise ValueError("exception code must be 1..255")
        self.modbus_faults.exception[unit_id] = code

    def ignore_writes(self, point: str | None = None, protocol: str = "both") -> None:
        """Acknowledge writes to ``point`` (None: every point) and keep the old value, like a device whose
        own logic or HMI overrides them: only a read-back shows it. Ended by :meth:`clear_faults`."""
        if point is not None and point not in self._by_name:
            raise KeyError(f"unknown point {point!r}")
        if protocol in ("modbus", "both"):
            self.modbus_faults.ignored_writes.add(point)
        if protocol in ("opcua", "both"):
            self.opcua_faults.ignored_writes.add(point)

    def drop_connections(self, protocol: str = "both") -> int:
        """Abort every open client TCP connection (servers keep listening). Returns how many were dropped."""
        dropped = 0
        if protocol in ("modbus", "both") and self.modbus is not None:
            dropped += self.modbus.drop_connections()
        if protocol in ("opcua", "both") and self.opcua is not None:
            dropped += self.opcua.drop_connections()
        return dropped

    async def restart_opcua(self, downtime: float = 0.0) -> None:
        """Stop the OPC UA server (sessions and subscriptions are lost) and start it on the same port."""
        if self.opcua is not None:
            await self.opcua.restart(downtime)

    def clear_faults(self) -> None:
        """End every injected fault (powered-off machines stay off: use :meth:`power`)."""
        self.modbus_faults.clear()
        if self.opcua is not None:
            self.opcua.set_silent(False)
        self.opcua_faults.clear()

    def power(self, machine: str, on: bool) -> None:
        """Switch a machine off (its OPC UA values turn Bad, its Modbus unit answers exception 0x0B) or on."""
        for model in self.models.values():
            if machine in model.machines:
                model.advance(self.clock.elapsed())  # the switch happens now, not at the last tick
                model.set_power(machine, on)
                units = self._machine_units.get(machine, set())
                if on:
                    self.modbus_faults.powered_off.difference_update(units)
                else:
                    self.modbus_faults.powered_off.update(units)
                return
        raise KeyError(f"unknown machine {machine!r} (known: {', '.join(self.machines)})")

    # ------------------------------------------------------------------ ground truth

    @property
    def machines(self) -> list[str]:
        return [m for model in self.models.values() for m in model.machines]

    def point(self, name: str) -> Point:
        """A point by its dotted name (``Packaging.Line1.Filler.GoodCount``)."""
        return self._by_name[name]

    def counters(self, machine: str) -> CounterTruth:
        """Unwrapped good/reject counts of a brewery machine since start."""
        model = self.models.get("brewery")
        if model is None:
            raise KeyError("counters are kept for the brewery scenario")
        return model.counters(machine)  # type: ignore[attr-defined]

    @property
    def events(self) -> list[StateEvent]:
        """Every machine state change so far, in order."""
        out: list[StateEvent] = []
        for model in self.models.values():
            out.extend(getattr(model, "events", ()))
        return sorted(out, key=lambda e: e.elapsed)

    @property
    def scale_cycle(self) -> int:
        """How many times every scale tag has changed."""
        return self.scale.cycle if self.scale else 0

    def scale_value(self, index: int, cycle: int | None = None) -> int:
        """The value of scale tag ``index`` after ``cycle`` changes (default: now)."""
        return scale_value(index, self.scale_cycle if cycle is None else cycle, self.options.seed)

    def total_changes(self) -> int:
        """Published value changes over all points and scale tags, after the initial values (samples − 1 each)."""
        scale = self.scale_cycle * (self.options.tags if self.scale else 0)
        return sum(p.changes for p in self.points) + scale

    def describe(self) -> str:
        """The Modbus register map and the OPC UA node tree, as text."""
        return describe(self.options, self.points, self.modbus_port, self.opcua_port, self.opcua_namespace)
