"""The Modbus driver: reads poll groups request by request, isolating each request's failure.

It implements :class:`collectors.drivers.base.Driver`. Timing, reconnects and the
quality of failed tags belong to the connection worker; this module decides only
what is Modbus-specific:

- **Per request, not per group.** A request that fails (timeout, exception
  reply) is reported in :class:`~collectors.errors.PartialRead` with its tags;
  the other requests of the cycle still run.
- **Busy (exception 6/5)**: the request is asked again after ``busy_retry_delay``,
  at the end of the cycle so the other requests are not held up.
- **A unit that times out** is skipped for the rest of the cycle; from its
  second timeout in a row also for a growing pause (probe with one request
  after 1 s, doubling up to 30 s), so one dead unit behind a gateway costs at
  most one deadline per pause and the others keep their rate.
- **Exceptions 2/3** mark the request's tags bad; one log line when it starts
  and one when it ends, not one per cycle.
- **Out of step or transport lost** ends the cycle: the remaining requests are
  reported with that error and the worker drops the connection at once.
- Workarounds under Telegraf's names: pause after connect, pause between
  requests, close the connection after each cycle, coils from zero, string
  register location, one request per field, max registers/bits per request.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from collectors.config.models import ModbusConnection, ModbusTable, Tag
from collectors.drivers.base import SampleSink
from collectors.drivers.modbus.client import ModbusClient, ModbusExceptionReply
from collectors.drivers.modbus.codec import BlockDecoder, decode_value, encode_value, register_type
from collectors.drivers.modbus.health import UnitHealth
from collectors.drivers.modbus.planner import ReadRequest, plan_requests, unit_of
from collectors.errors import (
    BadAddress,
    ConnectionLost,
    DeviceBusy,
    DeviceError,
    DeviceTimeout,
    PartialRead,
    ProtocolOutOfStep,
    WriteRefused,
)
from collectors.samples import BAD_TYPE_MISMATCH, GOOD, UNCERTAIN_ENGINEERING_UNITS_EXCEEDED, Sample
from collectors.worker import ConnectionWorker, error_kind

log = logging.getLogger(__name__)

UNIT_PAUSE_MIN = 1.0  # a timing-out unit is probed after 1 s, 2 s, 4 s ... 30 s
UNIT_PAUSE_MAX = 30.0
_GOODS = repeat(GOOD)
_NONES = repeat(None)
_PROBLEM_STATUS = (GOOD, UNCERTAIN_ENGINEERING_UNITS_EXCEEDED, BAD_TYPE_MISMATCH)


_READ_FUNCTION = {ModbusTable.coil: 1, ModbusTable.discrete_input: 2, ModbusTable.holding_register: 3,
                  ModbusTable.input_register: 4}


class UnitSuspended(DeviceTimeout):
    """The unit timed out recently; its requests are skipped until its next probe."""


@dataclass(slots=True)
class PlannedRead:
    """A request with its precompiled decoder and the names of its tags in decode order."""

    request: ReadRequest
    decoder: BlockDecoder
    names: tuple[str, ...]
    texts: bool  # some tags are strings: their samples carry ``text``

    @property
    def what(self) -> str:
        r = self.request
        return f"unit {r.unit_id} FC{r.function_code} {r.address}+{r.count}"


class ModbusDriver:
    """One Modbus connection (TCP endpoint, serial port or RTU-over-TCP gateway) and its tags."""

    def __init__(self, connection: ModbusConnection, tags: Sequence[Tag]) -> None:
        self.connection_id = connection.id
        self.connection = connection
        self.tags = {tag.name: tag for tag in tags if tag.table is not None and tag.address is not None}
        self._client = ModbusClient(connection)
        self.plans: dict[str, list[PlannedRead]] = {}
        for request in plan_requests(connection, list(self.tags.values())):
            self.plans.setdefault(request.group, []).append(self._planned(request))
        self._units: dict[int, UnitHealth] = {}
        for planned_reads in self.plans.values():
            for planned in planned_reads:
                self._unit(planned.request.unit_id)
        self._reported: dict[tuple[int, int, int, int], str] = {}  # request → error logged once

    # ------------------------------------------------------------------ what the worker needs

    @property
    def group_tags(self) -> dict[str, list[str]]:
        """Tag names per poll group (for bad samples when a whole group fails)."""
        return {group: [n for p in plans for n in p.names] for group, plans in self.plans.items()}

    @property
    def poll_groups(self) -> dict[str, float]:
        """Group name → interval; a group used by tags but not declared polls every second."""
        groups = {g.name: g.interval for g in self.connection.poll_groups}
        for group in self.plans:
            if group not in groups:
                log.warning("%s: poll group %s is not declared; polling it every 1 s", self.connection_id, group)
                groups[group] = 1.0
        used = {name: interval for name, interval in groups.items() if name in self.plans}
        return used or groups

    def requests_per_cycle(self) -> dict[str, int]:
        return {group: len(plans) for group, plans in self.plans.items()}

    # ------------------------------------------------------------------ Driver protocol

    async def connect(self) -> None:
        await self._client.connect()
        pause = self.connection.workarounds.pause_after_connect
        if pause:
            await asyncio.sleep(pause)

    async def close(self) -> None:
        self._client.close()

    async def read_group(self, group: str) -> list[Sample]:
        """Read every request of ``group``; raise PartialRead when some failed (see the module doc)."""
        # A cycle builds thousands of samples, which trips the cyclic GC many times, and each pass walks
        # every live object (the plant's tag models too): that cost more than decoding. Samples hold no
        # reference cycles, so the GC is paused for the cycle and runs once after it if due. If someone
        # else disabled it, it is left alone.
        pause_gc = gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            return await self._read_group(group)
        finally:
            if pause_gc:
                gc.enable()

    async def _read_group(self, group: str) -> list[Sample]:
        workarounds = self.connection.workarounds
        if not self._client.connected and workarounds.close_connection_after_gather:
            await self.connect()
        samples: list[Sample] = []
        failures: list[tuple[list[str], DeviceError]] = []
        busy: list[tuple[PlannedRead, float]] = []
        skipped_units: set[int] = set()
        plans = self.plans.get(group, [])
        now = time.monotonic()
        cursor = 0  # the next plan to send; plans[cursor - 1] is the one in flight

        def launch() -> tuple[PlannedRead, asyncio.Future[Any]] | None:
            nonlocal cursor
            while cursor < len(plans):
                planned = plans[cursor]
                cursor += 1
                unit = self._units[planned.request.unit_id]
                if unit.unit_id in skipped_units or unit.suspended_until > now:
                    failures.append((list(planned.names), UnitSuspended(f"{planned.what}: unit suspended")))
                    continue
                pause = workarounds.pause_between_requests if cursor > 1 else 0.0
                return planned, asyncio.ensure_future(self._send(planned, pause))
            return None

        pending = launch()
        try:
            while pending is not None:
                planned, task = pending
                pending = None
                try:
                    data, sent, received = await task
                except DeviceError as error:
                    self._failed(planned, error)
                    if isinstance(error, (ProtocolOutOfStep, ConnectionLost)):
                        # The stream is unusable: report this and every remaining request, end the cycle.
                        for rest in [*plans[cursor - 1 :], *(b for b, _ in busy)]:
                            failures.append((list(rest.names), error))
                        busy = []
                        break
                    if isinstance(error, DeviceBusy):
                        busy.append((planned, time.monotonic()))
                    elif isinstance(error, DeviceTimeout):
                        skipped_units.add(planned.request.unit_id)
                        failures.append((list(planned.names), error))
                    elif isinstance(error, BadAddress) and getattr(error, "code", 0) in (2, 3) and (
                        halves := self._split(planned)
                    ):
                        # A refused address inside a merged block: read the halves now, and from now on.
                        cursor -= 1
                        plans[cursor : cursor + 1] = halves
                    else:
                        failures.append((list(planned.names), error))
                    pending = launch()
                    continue
                # The next request goes on the wire first (one loop step lets its task send it);
                # this answer is decoded while that one travels and the device works on it.
                pending = launch()
                if pending is not None:
                    await asyncio.sleep(0)
                samples.extend(self._accept(planned, data, sent, received))
        finally:
            if pending is not None and not pending[1].done():
                pending[1].cancel()
        for planned, answered_at in busy:
            wait = answered_at + self.connection.busy_retry_delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                data, sent, received = await self._send(planned)
            except DeviceError as error:
                self._failed(planned, error)
                failures.append((list(planned.names), error))
                if isinstance(error, (ProtocolOutOfStep, ConnectionLost)):
                    break
            else:
                samples.extend(self._accept(planned, data, sent, received))
        if workarounds.close_connection_after_gather:
            self._client.close()
        if failures:
            raise PartialRead(samples, failures)
        return samples

    def _split(self, planned: PlannedRead) -> list[PlannedRead]:
        """Two requests covering the tags of a refused merged request, halved by address; none for one tag.

        Splitting halves again on each refusal isolates the refused addresses in
        O(k log n) requests, once: the split plan replaces the merged one, so only
        the tags whose own registers are refused stay bad.
        """
        request = planned.request
        tags = sorted(request.tags, key=lambda t: (t.address or 0, t.register_count))
        if len(tags) < 2:
            return []
        middle = len(tags) // 2
        halves = []
        for part in (tags[:middle], tags[middle:]):
            start = min(t.address or 0 for t in part)
            end = max((t.address or 0) + t.register_count for t in part)
            piece = ReadRequest(request.unit_id, request.table, request.group, start, end - start, list(part))
            halves.append(self._planned(piece))
        log.info("%s: %s was refused; splitting it to find the refused addresses", self.connection_id, planned.what)
        return halves

    def _planned(self, request: ReadRequest) -> PlannedRead:
        location = self.connection.workarounds.string_register_location
        decoder = BlockDecoder(request.address, request.count, request.tags, string_register_location=location)
        texts = any(register_type(t).value.startswith("string") for t in decoder.tags)
        return PlannedRead(request, decoder, decoder.names, texts)

    def _send(self, planned: PlannedRead, pause: float = 0.0) -> Coroutine[Any, Any, tuple[Any, float, float]]:
        """The read of one request: its answer's values with send and receive times."""
        request = planned.request
        if pause:
            return self._send_after(pause, planned)
        return self._client.read_timed(request.function_code, request.unit_id, request.address, request.count)

    async def _send_after(self, pause: float, planned: PlannedRead) -> tuple[Any, float, float]:
        await asyncio.sleep(pause)
        return await self._send(planned)

    def _accept(self, planned: PlannedRead, data: Any, sent: float, received: float) -> list[Sample]:
        """Book an answered request in the unit's health and decode it into samples."""
        request = planned.request
        unit = self._units[request.unit_id]
        unit.answered(received - sent, received)
        if unit.suspended_until:
            unit.suspended_until = 0.0
            log.info("%s: unit %d answers again", self.connection_id, unit.unit_id)
        if self._reported and self._reported.pop(
            (request.unit_id, request.function_code, request.address, request.count), None
        ) is not None:
            log.info("%s: %s is answered again", self.connection_id, planned.what)
        return self._samples(planned, data, sent, received)

    def _failed(self, planned: PlannedRead, error: DeviceError) -> None:
        unit = self._units[planned.request.unit_id]
        unit.failed(error_kind(error))
        request = planned.request
        if isinstance(error, DeviceTimeout):
            # One timeout may be a lost frame: the unit is skipped for the rest of this cycle only.
            # From the second in a row it is dead for now, and probed after a pause that doubles.
            unit.timeouts_in_a_row += 1
            if unit.timeouts_in_a_row >= 2:
                first_pause = max(UNIT_PAUSE_MIN, 2 * self.connection.timeout)
                pause = min(UNIT_PAUSE_MAX, first_pause * 2 ** (unit.timeouts_in_a_row - 2))
                unit.suspended_until = time.monotonic() + pause
                if unit.timeouts_in_a_row == 2:
                    log.warning(
                        "%s: unit %d does not answer (%s); its tags are bad, next try in %.1f s",
                        self.connection_id, unit.unit_id, error, pause,
                    )
        elif isinstance(error, ModbusExceptionReply) and not isinstance(error, DeviceBusy):
            if error.code in (2, 3) and len(request.tags) > 1:
                return  # the request is split next; its pieces will say which addresses are refused
            key = (request.unit_id, request.function_code, request.address, request.count)
            if key not in self._reported:
                self._reported[key] = str(error)
                names = ", ".join(planned.names[:5]) + (" …" if len(planned.names) > 5 else "")
                log.warning(
                    "%s: %s is refused with Modbus exception %d; tags %s are marked bad until it is answered "
                    "(check the address: zero-based, holding register 40001 is address 0)",
                    self.connection_id, planned.what, error.code, names,
                )

    def _samples(self, planned: PlannedRead, data: Any, sent: float, received: float) -> list[Sample]:
        # The device's value is taken at some point between send and receive: the midpoint is the best guess.
        when = datetime.fromtimestamp((sent + received) / 2, UTC)
        seen = datetime.fromtimestamp(received, UTC)
        values, problems = planned.decoder.decode(data)
        if problems is None and not planned.texts:
            # map() calls the Sample type straight from C: measurably cheaper than a comprehension here.
            return list(map(Sample, planned.names, repeat(when), values, _GOODS, _NONES, _NONES, repeat(seen)))
        result = []
        for position, (name, value) in enumerate(zip(planned.names, values, strict=True)):
            status = _PROBLEM_STATUS[problems[position]] if problems else GOOD
            if isinstance(value, str):
                result.append(Sample(name, when, None, status, value, None, seen))
            else:
                result.append(Sample(name, when, value, status, None, None, seen))
        return result

    async def write(self, tag: str, value: Any) -> None:
        """Write one tag's value, encoded like reads: FC5/15 for coils, FC6/16 for holding registers.

        Bits and 8-bit halves share a register with other data: the register is read
        first and only the tag's part changes (not atomic on the device).
        """
        if tag not in self.tags:
            raise WriteRefused(f"{self.connection_id}: no Modbus tag {tag}")
        spec = self.tags[tag]
        if not spec.writable:
            raise WriteRefused(f"tag {tag} is not writable (set writable: true in the plant config)")
        if spec.write_limits is not None and not isinstance(value, (str, bool)):
            low, high = spec.write_limits
            if not low <= float(value) <= high:
                raise WriteRefused(f"{value} is outside the write limits [{low}, {high}] of tag {tag}")
        unit, address = unit_of(spec), spec.address or 0
        if spec.table is ModbusTable.coil:
            bits = list(value) if isinstance(value, (list, tuple)) else [bool(value)]
            await self._client.write_coils(unit, address, bits)
            return
        if spec.table is not ModbusTable.holding_register:
            table = spec.table.value if spec.table else "no"
            raise WriteRefused(f"tag {tag} is in the {table} table, which is read-only")
        location = self.connection.workarounds.string_register_location
        current = 0
        if register_type(spec).value in ("bit", "int8_high", "int8_low", "uint8_high", "uint8_low"):
            [current] = await self._client.read(3, unit, address, 1)
        try:
            registers = encode_value(spec, value, current=current, string_register_location=location)
        except ValueError as exc:
            raise WriteRefused(str(exc)) from exc
        await self._client.write_registers(unit, address, registers)

    async def read_tag(self, tag: str) -> Sample:
        """Read one tag now, on its own request (the read-back of a write; polls never wait for it)."""
        if tag not in self.tags:
            raise BadAddress(f"{self.connection_id}: no Modbus tag {tag}")
        spec = self.tags[tag]
        function_code = _READ_FUNCTION[spec.table or ModbusTable.holding_register]
        words, sent, received = await self._client.read_timed(function_code, unit_of(spec), spec.address or 0,
                                                              spec.register_count)
        location = self.connection.workarounds.string_register_location
        value = decode_value(spec, words, string_register_location=location)
        when, seen = datetime.fromtimestamp((sent + received) / 2, UTC), datetime.fromtimestamp(received, UTC)
        if isinstance(value, str):
            return Sample(tag, when, None, GOOD, value, None, seen)
        return Sample(tag, when, None if value is None else float(value), GOOD, None, None, seen)

    def health(self) -> dict[str, Any]:
        """Connection totals and, per unit id, requests, errors by kind, latency and last good read."""
        now = time.monotonic()
        errors: dict[str, int] = {}
        for unit in self._units.values():
            for kind, count in unit.errors.items():
                errors[kind] = errors.get(kind, 0) + count
        return {
            "protocol": "modbus",
            "endpoint": self._client.describe(),
            "connected": self._client.connected,
            "requests_per_cycle": self.requests_per_cycle(),
            "requests": sum(unit.requests for unit in self._units.values()),
            "errors": errors,
            "units": {str(u.unit_id): u.as_dict(now) for u in sorted(self._units.values(), key=lambda u: u.unit_id)},
            "refused_requests": list(self._reported.values()),
        }

    def _unit(self, unit_id: int) -> UnitHealth:
        if unit_id not in self._units:
            self._units[unit_id] = UnitHealth(unit_id)
        return self._units[unit_id]


def modbus_worker(connection: ModbusConnection, tags: Sequence[Tag], sink: SampleSink) -> ConnectionWorker:
    """A connection worker polling ``tags`` of ``connection`` into ``sink``: the usual way to run Modbus."""
    driver = ModbusDriver(connection, tags)
    return ConnectionWorker(
        driver,
        driver.poll_groups,
        sink,
        group_tags=driver.group_tags,
        reconnect_after_timeouts=connection.reconnect_after_timeouts,
        connect_timeout=connection.timeout + connection.workarounds.pause_after_connect + 1.0,
    )
