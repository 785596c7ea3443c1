"""Simulated time: wall time × speed factor, plus explicit jumps.

Models only ever see *elapsed simulated seconds*; events are drawn from seeded
generators on that axis, so the event sequence depends on seed and model, not on
how late the event loop woke up. ``speed=0`` freezes the clock: only
:meth:`SimClock.advance` moves it, which is what deterministic tests use.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self.start = start or datetime.now(UTC)
        self._wall0 = time.monotonic()
        self._jumped = 0.0

    def elapsed(self) -> float:
        """Simulated seconds since start."""
        return (time.monotonic() - self._wall0) * self.speed + self._jumped

    def pause(self) -> None:
        """Freeze simulated time where it is (a run that ends, so what was served can be compared)."""
        self._jumped = self.elapsed()
        self._wall0 = time.monotonic()
        self.speed = 0.0

    def set_speed(self, speed: float) -> None:
        """Go on from here at ``speed`` (a time-accelerated run that starts once its clients are connected)."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._jumped = self.elapsed()
        self._wall0 = time.monotonic()
        self.speed = speed

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward (tests, ``speed=0``)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._jumped += seconds

    def at(self, elapsed: float) -> datetime:
        """The simulated wall-clock time (UTC) of an elapsed offset."""
        return self.start + timedelta(seconds=elapsed)
