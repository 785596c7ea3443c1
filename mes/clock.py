"""The plant clock of a ``linebrain run`` process: the wall clock, or a simulated one that starts at a
chosen moment and runs ``speed`` times faster (``run --clock-start --clock-speed``), so a demo or a test
lives through a day of shifts in minutes. Derivation and the report schedule read it; collectors keep
the devices' own timestamps (a simulator started with the same ``--start`` and ``--speed`` keeps step)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SimulatedClock:
    """Plant time from ``start``, ``speed`` simulated seconds per wall second (monotonic: no jumps)."""

    start: datetime
    speed: float
    _wall: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._wall) * self.speed)


_clock: SimulatedClock | None = None
MIN_INTERVAL_S = 1.0


def set_plant_clock(clock: SimulatedClock | None) -> None:
    """Make ``clock`` the process's plant clock (None: the wall clock)."""
    global _clock
    _clock = clock


def plant_clock() -> SimulatedClock | None:
    """The simulated plant clock, or None when the process runs on the wall clock."""
    return _clock


def job_interval(every_s: float) -> float:
    """Wall seconds between the rounds of a job meant to run every ``every_s`` plant seconds: on a
    faster plant clock proportionally shorter (a 30 s schedule at speed 300 looks every 0.1 s), but
    never below :data:`MIN_INTERVAL_S`, so an accelerated run does not spin the machine."""
    if _clock is None:
        return every_s
    return min(every_s, max(MIN_INTERVAL_S, every_s / _clock.speed))
