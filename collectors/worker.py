"""The connection worker: one per connection, it owns timing, reconnects and health.

A driver only connects, reads a poll group, writes and closes, raising the typed
errors of :mod:`collectors.errors`. This worker decides everything else, in one
place, for every protocol that polls (Modbus, polled OPC UA groups):

- **Schedule.** Each poll group has a fixed grid of deadlines ``start + k·interval``.
  Deadlines are computed from the grid, not from the end of the last read, so
  there is no drift. A read that runs past its group's next deadline makes the
  worker skip the missed deadlines and count them as overruns; missed reads are
  never queued, so a slow device cannot build a backlog. Groups share the one
  connection and run one at a time, the fastest first when several are due.
- **Quality.** Failed requests become bad-quality samples here (:func:`bad_samples`),
  with the status code of :func:`status_of`, so a tag turns bad the same way
  whatever the protocol. Bad samples are samples: they go to the sink.
- **Reconnects.** A lost connection or a protocol out of step closes the driver.
  Out of step reconnects at once (the device is alive, only the stream is broken);
  the other causes reconnect with exponential backoff. Timeouts reconnect only
  after ``reconnect_after_timeouts`` group reads in a row got no answer at all, so
  one dead unit behind a gateway never drops the connection of the live ones.
- **Sink.** Samples go to a non-blocking :data:`~collectors.drivers.base.SampleSink`;
  a sink that raises is counted and logged, it never stops the polling.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.drivers.base import Driver, SampleSink
from collectors.errors import (
    BadAddress,
    ConnectionLost,
    DeviceBusy,
    DeviceError,
    DeviceTimeout,
    PartialRead,
    ProtocolOutOfStep,
)
from collectors.samples import (
    BAD_COMMUNICATION_ERROR,
    BAD_DEVICE_FAILURE,
    BAD_NO_COMMUNICATION,
    BAD_OUT_OF_RANGE,
    BAD_TIMEOUT,
    Sample,
)

log = logging.getLogger(__name__)

# OPC UA StatusCodes not (yet) in collectors.samples (values from OPC UA Part 6).
BAD_INTERNAL_ERROR = 0x80020000
BAD_SERVER_TOO_BUSY = 0x80EE0000

_STATUS_BY_ERROR: tuple[tuple[type[BaseException], int], ...] = (
    (ProtocolOutOfStep, BAD_COMMUNICATION_ERROR),
    (ConnectionLost, BAD_NO_COMMUNICATION),
    (DeviceTimeout, BAD_TIMEOUT),
    (DeviceBusy, BAD_SERVER_TOO_BUSY),
    (BadAddress, BAD_OUT_OF_RANGE),
    (DeviceError, BAD_DEVICE_FAILURE),
)


def status_of(error: BaseException) -> int:
    """The quality a tag gets when its read failed with ``error``.

    A driver may refine it by setting a ``status`` attribute on the error (Modbus
    exception 2 → BadNodeIdUnknown, exception 3 → BadOutOfRange, ...); anything
    that is not a :class:`DeviceError` is a bug of ours: BadInternalError.
    """
    refined = getattr(error, "status", None)
    if isinstance(refined, int):
        return refined
    for kind, status in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return BAD_INTERNAL_ERROR


def bad_samples(tags: Sequence[str], error: BaseException, when: datetime) -> list[Sample]:
    """One bad-quality sample per tag; the single place where failures become samples."""
    status = status_of(error)
    return [Sample(tag, when, None, status, None, None, when) for tag in tags]


def error_kind(error: BaseException) -> str:
    """Short name of an error class, the key of the ``errors`` counters in health."""
    for kind, name in (
        (ProtocolOutOfStep, "out_of_step"),
        (ConnectionLost, "connection_lost"),
        (DeviceTimeout, "timeout"),
        (DeviceBusy, "busy"),
        (BadAddress, "bad_address"),
        (DeviceError, "device"),
    ):
        if isinstance(error, kind):
            return name
    return "internal"


@dataclass
class Backoff:
    """Exponential reconnect delay with ±10% jitter, so many workers do not redial in step."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    attempts: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return delay * random.uniform(0.9, 1.1)

    def reset(self) -> None:
        self.attempts = 0


@dataclass
class GroupSchedule:
    """One poll group's deadline grid and counters."""

    name: str
    interval: float
    tags: Sequence[str] = ()
    base: float = 0.0  # loop time of slot 0
    slot: int = 0  # index of the next deadline
    cycles: int = 0
    overruns: int = 0
    samples: int = 0
    bad_samples: int = 0
    last_duration: float = 0.0
    max_duration: float = 0.0
    last_cycle: datetime | None = None

    @property
    def due(self) -> float:
        return self.base + self.slot * self.interval

    def advance(self, now: float) -> int:
        """Move to the first deadline after the one just served that is not yet past.

        Returns how many deadlines were skipped (overruns).
        """
        following = self.slot + 1
        first_not_past = math.ceil((now - self.base) / self.interval - 1e-9)
        nxt = max(following, first_not_past)
        skipped = nxt - following
        self.slot = nxt
        return skipped

    def realign(self, now: float) -> None:
        """After a reconnect, resume at the next grid deadline (no overruns for the outage)."""
        self.slot = max(self.slot, math.ceil((now - self.base) / self.interval - 1e-9))


@dataclass
class _ConnectionState:
    connected: bool = False
    state: str = "idle"
    connects: int = 0
    disconnects: dict[str, int] = field(default_factory=dict)
    timeouts_in_a_row: int = 0
    last_error: str | None = None
    last_error_time: datetime | None = None
    next_connect_at: float | None = None
    sink_errors: int = 0
    reported_down: bool = False


class ConnectionWorker:
    """Polls one connection's groups through ``driver`` and hands samples to ``sink``.

    ``poll_groups`` maps group name → interval in seconds. ``group_tags`` maps group
    name → the tag names read by that group; the worker needs them to emit bad
    samples when a whole group read or the connection fails. Run it with
    ``await worker.run()`` (or as a task) and end it with :meth:`stop`.
    """

    def __init__(
        self,
        driver: Driver,
        poll_groups: Mapping[str, float],
        sink: SampleSink,
        *,
        group_tags: Mapping[str, Sequence[str]] | None = None,
        reconnect_after_timeouts: int = 3,
        backoff: Backoff | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if not poll_groups:
            raise ValueError("a connection worker needs at least one poll group")
        self.driver = driver
        self.sink = sink
        self.reconnect_after_timeouts = reconnect_after_timeouts
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        tags = group_tags or {}
        # Fastest group first: when several are due at once, the short interval wins.
        self.groups = sorted(
            (GroupSchedule(name, interval, tuple(tags.get(name, ()))) for name, interval in poll_groups.items()),
            key=lambda g: g.interval,
        )
        self._conn = _ConnectionState()
        self._stopping = False
        self._sleeper: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        """Poll until :meth:`stop`. Device errors never escape; the driver is closed at the end."""
        loop = asyncio.get_running_loop()
        first_connect = True
        try:
            while not self._stopping:
                if not self._conn.connected:
                    await self._connect_until_up()
                    if self._stopping:
                        break
                    now = loop.time()
                    for group in self.groups:
                        if first_connect:
                            group.base, group.slot = now, 0  # the grid starts when data can flow
                        else:
                            group.realign(now)
                    first_connect = False
                group = min(self.groups, key=lambda g: g.due)
                delay = group.due - loop.time()
                if delay > 0:
                    await self._sleep(delay)
                    if self._stopping:
                        break
                await self._poll(group)
                skipped = group.advance(loop.time())
                group.overruns += skipped
        finally:
            self._conn.state = "stopped"
            self._conn.connected = False
            await self._close_driver()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the read in progress (if any)."""
        self._stopping = True
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(None)

    async def _sleep(self, delay: float) -> None:
        """Sleep that :meth:`stop` can cut short (no task per sleep: this runs every cycle)."""
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(delay, _resolve, sleeper)
        self._sleeper = sleeper
        try:
            await sleeper
        finally:
            handle.cancel()
            self._sleeper = None

    # ------------------------------------------------------------------ connecting

    async def _connect_until_up(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if self._conn.next_connect_at is not None:
                wait = self._conn.next_connect_at - loop.time()
                if wait > 0:
                    self._conn.state = "backoff"
                    await self._sleep(wait)
                    if self._stopping:
                        return
            self._conn.state = "connecting"
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self.driver.connect()
            except Exception as exc:  # any failure to connect means: try again later
                error = exc if isinstance(exc, DeviceError) else ConnectionLost(f"connect failed: {exc!r}")
                if isinstance(exc, TimeoutError):
                    error = DeviceTimeout(f"connect took longer than {self.connect_timeout} s")
                self._note_error(error)
                await self._close_driver()
                self._report_down(error, exclude=None)
                self._conn.next_connect_at = loop.time() + self.backoff.next_delay()
                continue
            self._conn.connected = True
            self._conn.connects += 1
            self._conn.state = "connected"
            self._conn.next_connect_at = None
            if self._conn.reported_down:
                log.info("%s: connected again", self.driver.connection_id)
            return

    def _disconnect(self, reason: str, error: BaseException, *, at_once: bool, failed_group: str) -> None:
        """Close the driver and plan the reconnect; the connection's tags turn bad once."""
        loop = asyncio.get_running_loop()
        self._conn.connected = False
        self._conn.disconnects[reason] = self._conn.disconnects.get(reason, 0) + 1
        self._conn.timeouts_in_a_row = 0
        delay = 0.0 if at_once else self.backoff.next_delay()
        self._conn.next_connect_at = loop.time() + delay
        log.warning(
            "%s: dropping the connection (%s: %s); reconnecting in %.1f s",
            self.driver.connection_id, reason, error, delay,
        )
        self._report_down(error, exclude=failed_group)

    def _report_down(self, error: BaseException, exclude: str | None) -> None:
        """Emit one bad sample per tag when the connection goes down (not on every retry)."""
        if self._conn.reported_down:
            return
        self._conn.reported_down = True
        when = datetime.now(UTC)
        samples: list[Sample] = []
        for group in self.groups:
            if group.name != exclude:
                down = bad_samples(group.tags, error, when)
                group.samples += len(down)  # counted like a failed read's, so status shows them
                group.bad_samples += len(down)
                samples.extend(down)
        if exclude is None:
            log.warning("%s: cannot connect: %s", self.driver.connection_id, error)
        self._emit(samples)

    async def _close_driver(self) -> None:
        try:
            await self.driver.close()
        except Exception:  # close must never take the worker down
            log.exception("%s: closing the driver failed", self.driver.connection_id)

    # ------------------------------------------------------------------ polling

    async def _poll(self, group: GroupSchedule) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        failures: list[tuple[Sequence[str], BaseException]] = []
        try:
            samples = await self.driver.read_group(group.name)
        except PartialRead as partial:
            samples = list(partial.samples)
            failures = list(partial.failures)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the whole group failed; a non-device error is our bug
            if not isinstance(exc, DeviceError):
                log.exception("%s: reading group %s failed unexpectedly", self.driver.connection_id, group.name)
            samples, failures = [], [(group.tags, exc)]
        answered = bool(samples) or any(not isinstance(e, (DeviceTimeout, ConnectionLost)) for _, e in failures)
        if failures:
            when = datetime.now(UTC)
            for tags, error in failures:
                samples.extend(bad_samples(tags, error, when))
                self._note_error(error)
        group.cycles += 1
        group.last_duration = loop.time() - started
        group.max_duration = max(group.max_duration, group.last_duration)
        group.last_cycle = datetime.now(UTC)
        group.samples += len(samples)
        group.bad_samples += sum(1 for s in samples if s.status >> 31)
        self._emit(samples)
        self._apply_policy(group, failures, answered)

    def _apply_policy(
        self, group: GroupSchedule, failures: list[tuple[Sequence[str], BaseException]], answered: bool
    ) -> None:
        errors = [error for _, error in failures]
        step = next((e for e in errors if isinstance(e, ProtocolOutOfStep)), None)
        if step is not None:
            self._disconnect("out_of_step", step, at_once=True, failed_group=group.name)
            return
        lost = next((e for e in errors if isinstance(e, ConnectionLost)), None)
        if lost is not None:
            # A transport that died mid-cycle after answers is worth one immediate redial.
            self._disconnect("connection_lost", lost, at_once=answered, failed_group=group.name)
            return
        if answered:
            self._conn.timeouts_in_a_row = 0
            self.backoff.reset()
            if self._conn.reported_down:
                self._conn.reported_down = False
            return
        if any(isinstance(e, DeviceTimeout) for e in errors):
            self._conn.timeouts_in_a_row += 1
            if self._conn.timeouts_in_a_row >= self.reconnect_after_timeouts:
                last = next(e for e in errors if isinstance(e, DeviceTimeout))
                self._disconnect("timeouts", last, at_once=False, failed_group=group.name)
        elif errors:
            # Not an answer, not a timeout: a bug or an unknown failure. Start afresh, with backoff.
            self._disconnect("internal", errors[0], at_once=False, failed_group=group.name)

    def _emit(self, samples: list[Sample]) -> None:
        if not samples:
            return
        try:
            self.sink(samples)
        except Exception:  # the sink must not block or fail; if it does, keep polling
            self._conn.sink_errors += 1
            if self._conn.sink_errors == 1 or self._conn.sink_errors % 1000 == 0:
                log.exception(
                    "%s: the sample sink failed (%d times)", self.driver.connection_id, self._conn.sink_errors
                )

    def _note_error(self, error: BaseException) -> None:
        self._conn.last_error = f"{type(error).__name__}: {error}"
        self._conn.last_error_time = datetime.now(UTC)

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """Counters and state of the connection, its groups and its driver (for metrics and the CLI)."""
        try:
            driver_health = self.driver.health()
        except Exception as exc:  # health must always answer
            driver_health = {"error": repr(exc)}
        next_connect_in = None
        if self._conn.next_connect_at is not None and not self._conn.connected:
            next_connect_in = max(0.0, self._conn.next_connect_at - _loop_time())
        return {
            "connection": self.driver.connection_id,
            "state": self._conn.state,
            "connected": self._conn.connected,
            "connects": self._conn.connects,
            "disconnects": dict(self._conn.disconnects),
            "timeouts_in_a_row": self._conn.timeouts_in_a_row,
            "next_connect_in_s": next_connect_in,
            "last_error": self._conn.last_error,
            "last_error_time": _iso(self._conn.last_error_time),
            "sink_errors": self._conn.sink_errors,
            "overruns": sum(g.overruns for g in self.groups),
            "groups": {
                g.name: {
                    "interval_s": g.interval,
                    "cycles": g.cycles,
                    "overruns": g.overruns,
                    "samples": g.samples,
                    "bad_samples": g.bad_samples,
                    "last_duration_s": round(g.last_duration, 6),
                    "max_duration_s": round(g.max_duration, 6),
                    "last_cycle": _iso(g.last_cycle),
                }
                for g in self.groups
            },
            "driver": driver_health,
        }


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _loop_time() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()
