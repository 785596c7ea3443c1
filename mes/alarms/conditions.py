"""Alarm conditions: one rule on one tag, judged reading by reading in memory.

A condition keeps the raw state (the limit crossed, with the deadband as
hysteresis: a high alarm raised above ``limit`` clears only below ``limit -
deadband``) and the debounced state (raw held for ``on_delay`` to raise, gone
for ``off_delay`` to clear). :meth:`Condition.update` is the hot path: the
evaluation of 20,000 tags a second with five rules each runs through it, so it
is a few comparisons on floats (times are POSIX seconds) and no allocation.
"""

from __future__ import annotations

from collectors.config.alarms import AlarmRule

UNCHANGED, RAISED, CLEARED = 0, 1, -1


class Condition:
    """One alarm point's process condition. Subclasses implement :meth:`judge`."""

    __slots__ = ("active", "deadband", "limit", "off_delay", "on_delay", "pending", "raw", "rule", "tag", "value")

    def __init__(self, rule: AlarmRule, tag: str) -> None:
        self.rule = rule
        self.tag = tag
        self.limit = rule.limit if rule.limit is not None else 0.0
        self.deadband = rule.deadband
        self.on_delay = rule.on_delay
        self.off_delay = rule.off_delay
        self.raw = False  # the condition as the last reading showed it (with hysteresis)
        self.active = False  # debounced: what the alarm point says
        self.pending: float | None = None  # since when raw differs from active
        self.value: float | None = None  # the reading that last changed raw

    @property
    def key(self) -> tuple[str, str]:
        return self.rule.name, self.tag

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        """The raw condition for this reading, or None when the reading says nothing (bad quality)."""
        raise NotImplementedError

    def update(self, value: object, good: bool, t: float) -> int:
        """Take one reading; RAISED or CLEARED when the debounced state changes, else UNCHANGED."""
        raw = self.judge(value, good, t)
        if raw is None:
            return UNCHANGED
        if raw is not self.raw:
            self.raw = raw
            self.value = as_number(value)
            self.pending = None if raw is self.active else t
        if self.pending is None:
            return UNCHANGED
        return self.due(t)

    def due(self, now: float) -> int:
        """Flip when the raw state has differed for the delay (called on readings and on the clock)."""
        since = self.pending
        if since is None or now - since < (self.off_delay if self.active else self.on_delay):
            return UNCHANGED
        self.pending = None
        self.active = self.raw
        return RAISED if self.active else CLEARED

    def flip_time(self) -> float | None:
        """When a pending change takes effect (its reading time plus the delay), or None."""
        if self.pending is None:
            return None
        return self.pending + (self.off_delay if self.active else self.on_delay)

    def restore(self, active: bool) -> None:
        """Continue from a stored state (after a restart) instead of raising the same alarm again."""
        self.active = self.raw = active
        self.pending = None


def as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, float | int):
        return float(value)
    return None


def reading(value: object, good: bool) -> float | None:
    """A usable number from a reading, or None (bad quality, no value, text)."""
    return as_number(value) if good else None


class High(Condition):
    __slots__ = ()

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = value if type(value) is float and good else reading(value, good)
        if v is None:
            return None
        return v > self.limit - self.deadband if self.raw else v > self.limit


class Low(Condition):
    __slots__ = ()

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = value if type(value) is float and good else reading(value, good)
        if v is None:
            return None
        return v < self.limit + self.deadband if self.raw else v < self.limit


class RateOfChange(Condition):
    """|Δvalue / Δt| in units per minute between consecutive good readings."""

    __slots__ = ("previous", "previous_t")

    def __init__(self, rule: AlarmRule, tag: str) -> None:
        super().__init__(rule, tag)
        self.previous: float | None = None
        self.previous_t = 0.0

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = reading(value, good)
        if v is None:
            return None
        previous, previous_t = self.previous, self.previous_t
        self.previous, self.previous_t = v, t
        if previous is None or t <= previous_t:
            return None
        rate = abs(v - previous) / (t - previous_t) * 60.0
        return rate > self.limit - self.deadband if self.raw else rate > self.limit


class Deviation(Condition):
    """|value − setpoint| beyond the limit; the setpoint is another tag's latest good reading."""

    __slots__ = ("setpoint",)

    def __init__(self, rule: AlarmRule, tag: str) -> None:
        super().__init__(rule, tag)
        self.setpoint: float | None = None

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = reading(value, good)
        if v is None or self.setpoint is None:
            return None
        difference = abs(v - self.setpoint)
        return difference > self.limit - self.deadband if self.raw else difference > self.limit


class Digital(Condition):
    __slots__ = ("alarm_value",)

    def __init__(self, rule: AlarmRule, tag: str) -> None:
        super().__init__(rule, tag)
        self.alarm_value = float(rule.state) if rule.state is not None else 1.0

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        v = reading(value, good)
        if v is None:
            return None
        return v == self.alarm_value


class BadQuality(Condition):
    """Bad quality or lost communication (the workers turn a dead connection into bad readings)."""

    __slots__ = ()

    def judge(self, value: object, good: bool, t: float) -> bool | None:
        return not good


KINDS: dict[str, type[Condition]] = {
    "high": High, "high_high": High, "low": Low, "low_low": Low, "rate_of_change": RateOfChange,
    "deviation": Deviation, "digital": Digital, "bad_quality": BadQuality,
}  # fmt: skip


def condition(rule: AlarmRule, tag: str) -> Condition:
    """The condition object for ``rule`` on ``tag``."""
    return KINDS[rule.kind](rule, tag)
