"""How a new order's machine settings reach the brewery line at a changeover.

The brewery's changeover has a mechanical part (format parts, guides, a
seeded 10–20 min) and a settings part: each machine needs the new product's
speed setpoint before the line may run. Who enters the settings is the
``setpoint_entry`` option:

- ``preset`` (default, as before this option existed): the model sets them
  itself at order start; nobody types anything.
- ``manual``: after the mechanical work an operator types the speed into each
  machine's HMI, machine after machine, :data:`MANUAL_SECONDS_PER_MACHINE`
  each (walk there, open the page, type, confirm, check). An assumption, stated
  as such in docs/recipes.md: the figure it gives is only as good as it.
- ``download``: nobody types. The line runs once every machine holds its
  product's setpoint, whoever wrote it: LineBrain's recipe download over
  Modbus and OPC UA, usually while the mechanical work is still going on.

In ``manual`` and ``download`` the line stays in changeover until the mechanical
work is done *and* every machine holds its target (within
:data:`READY_TOLERANCE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.points import Point

MODES = ("preset", "manual", "download")
MANUAL_SECONDS_PER_MACHINE = 120.0
READY_TOLERANCE = 0.05  # units/min: the setpoint is "the product's" within this


@dataclass
class SetpointEntry:
    """The settings part of a changeover, for one line."""

    mode: str = "preset"
    seconds_per_machine: float = MANUAL_SECONDS_PER_MACHINE
    targets: list[tuple[Point, float]] = field(default_factory=list)
    typing: list[tuple[float, Point, float]] = field(default_factory=list)  # (done at, point, value), in order
    settled: bool = True  # the current order's settings were all in place once (later edits do not stop the line)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"setpoint_entry must be one of {', '.join(MODES)}, not {self.mode!r}")

    def begin(self, mechanical_end: float, targets: list[tuple[Point, float]]) -> None:
        """A new order: ``targets`` are the (setpoint point, value) pairs its product needs."""
        self.targets = targets
        self.settled = self.mode == "preset"
        if self.mode == "preset":
            for point, value in targets:
                point.set(value)
            return
        if self.mode == "manual":
            self.typing = [(mechanical_end + self.seconds_per_machine * (n + 1), point, value)
                           for n, (point, value) in enumerate(targets)]  # fmt: skip

    def next_event(self, t: float) -> float | None:
        """When the operator finishes typing the next machine's value (manual mode), if still to come."""
        return next((done for done, _, _ in self.typing if done > t), None)

    def apply(self, t: float) -> None:
        """Enter the values the operator has finished typing by ``t``."""
        while self.typing and self.typing[0][0] <= t:
            _, point, value = self.typing.pop(0)
            point.set(value)

    def ready(self) -> bool:
        """May the line leave the changeover: does every machine hold its product's setpoint (or did it,
        once, for this order: a value changed afterwards is a variance, not a changeover)?"""
        if not self.settled:
            self.settled = all(abs(float(point.value) - value) <= READY_TOLERANCE for point, value in self.targets)
        return self.settled
