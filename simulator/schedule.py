"""Planned stops from a shift pattern: break windows on the simulated time axis.

Breaks are given in the plant's local time (as in the plant config), so a
30-minute break at 10:00 Europe/Berlin is a planned stop at 10:00 local on
every simulated day, across daylight-saving changes.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


class BreakSchedule:
    def __init__(self, start: datetime, timezone: str, breaks: list[tuple[time, float]]) -> None:
        """``start`` is the simulated time of elapsed 0; ``breaks`` are (local start, minutes)."""
        self.start = start
        self.zone = ZoneInfo(timezone)
        self.breaks = breaks
        self._windows = lru_cache(maxsize=8)(self._windows_of_day)

    def _windows_of_day(self, day_index: int) -> tuple[tuple[float, float], ...]:
        local_day = (self.start.astimezone(self.zone) + timedelta(days=day_index)).date()
        windows = []
        for start_time, minutes in self.breaks:
            begin = datetime.combine(local_day, start_time, tzinfo=self.zone)
            offset = (begin - self.start).total_seconds()
            windows.append((offset, offset + minutes * 60))
        return tuple(sorted(windows))

    def _around(self, t: float) -> list[tuple[float, float]]:
        day = int(t // 86400)
        return [w for d in (day - 1, day, day + 1, day + 2) for w in self._windows(d)]

    def in_break(self, t: float) -> bool:
        return any(a <= t < b for a, b in self._around(t))

    def next_boundary(self, t: float) -> float:
        """The first break start or end strictly after ``t``."""
        candidates = [x for a, b in self._around(t) for x in (a, b) if x > t]
        return min(candidates) if candidates else t + 86400
