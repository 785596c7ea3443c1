"""Per-unit counters of a Modbus connection: what ``linebrain status`` and the metrics show.

Kept per unit id because one gateway often fronts many devices, and "which one is
dead" is the first question on a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class UnitHealth:
    """Requests, errors by kind, latency and the last good read of one unit id."""

    unit_id: int
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency_last: float = 0.0
    latency_mean: float = 0.0  # exponentially weighted, so it follows the line's present state
    latency_max: float = 0.0
    last_good_read: float | None = None  # wall-clock seconds
    timeouts_in_a_row: int = 0
    suspended_until: float = 0.0  # monotonic; the unit is skipped until then after timeouts

    def answered(self, latency: float, when: float) -> None:
        self.requests += 1
        self.latency_last = latency
        self.latency_mean = latency if self.latency_mean == 0.0 else 0.9 * self.latency_mean + 0.1 * latency
        self.latency_max = max(self.latency_max, latency)
        self.last_good_read = when
        self.timeouts_in_a_row = 0

    def failed(self, kind: str) -> None:
        self.requests += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def as_dict(self, now_monotonic: float) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": dict(self.errors),
            "latency_ms": {
                "last": round(self.latency_last * 1000, 3),
                "mean": round(self.latency_mean * 1000, 3),
                "max": round(self.latency_max * 1000, 3),
            },
            "last_good_read": (
                datetime.fromtimestamp(self.last_good_read, UTC).isoformat() if self.last_good_read else None
            ),
            "timeouts_in_a_row": self.timeouts_in_a_row,
            "suspended_for_s": round(max(0.0, self.suspended_until - now_monotonic), 3),
        }
