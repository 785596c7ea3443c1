"""What every scenario model offers the engine, and the ground-truth records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from simulator.points import Point

# Raw state codes of the simulated PLCs (the examples map them in their state bindings).
STATE_CODES: dict[str, int] = {
    "running": 1,
    "starved": 2,
    "blocked": 3,
    "fault": 4,
    "changeover": 5,
    "planned_stop": 6,
    "idle": 7,
}


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A machine changed state (ground truth for state/downtime tests)."""

    elapsed: float
    time: datetime
    machine: str
    state: str
    fault_code: int = 0


@dataclass(slots=True)
class CounterTruth:
    """Units a machine produced, unwrapped: what the raw counters must add up to."""

    good: int = 0
    reject: int = 0
    order_good: int = 0
    order_reject: int = 0
    resets: int = 0

    @property
    def total(self) -> int:
        return self.good + self.reject


class Model(Protocol):
    """A scenario: owns points and moves them along simulated time."""

    name: str
    points: list[Point]
    machines: dict[str, list[Point]]

    def advance(self, t: float) -> None:
        """Process everything up to ``t`` simulated seconds since start and set point values."""

    def next_event(self) -> float | None:
        """Simulated time of the next discrete event (state change, phase end), or None."""

    def set_power(self, machine: str, on: bool) -> None:
        """Power a machine off (its points turn Bad, its Modbus unit stops answering) or on."""
