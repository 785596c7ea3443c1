"""The alarm engine: the plant's rules compiled onto its tags, fed the live readings.

:meth:`AlarmEngine.evaluate` takes a list of readings and returns the
:class:`Change` list they cause (raised, cleared, suppressed by design,
unsuppressed); :meth:`AlarmEngine.due` does the same for delays that expire
without a new reading. The engine keeps only the process side in memory; the
ISA-18.2 state of each alarm is in the database (:mod:`mes.alarms.store`), so
the API and the evaluator agree and a restart continues where it stopped
(:meth:`AlarmEngine.restore`).

Suppression by design: a rule with ``line`` is suppressed while that line's
state tag (its ``bindings.state`` code map) shows a state in ``suppress_in``
(default: planned stop). The engine reads the state tag from the same stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from collectors.config.alarms import rule_tags
from collectors.config.models import Plant
from collectors.samples import Sample
from mes.alarms.andon import AndonButton, button_rule
from mes.alarms.condition import Forecast, MaintenanceDue, asset_rules
from mes.alarms.conditions import CLEARED, RAISED, Condition, Deviation, condition

ChangeKind = Literal["raised", "cleared", "suppressed", "unsuppressed", "forecast"]


@dataclass(frozen=True, slots=True)
class Change:
    """Something the database must record for one alarm point."""

    kind: ChangeKind
    condition: Condition
    at: datetime
    value: float | None = None
    forecast: Forecast | None = None  # maintenance due: the forecast as it was at this change


def _moment(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class AlarmEngine:
    """Every alarm point of a plant; not thread-safe (one evaluator thread owns it)."""

    def __init__(self, plant: Plant) -> None:
        names = [tag.name for tag in plant.tags]
        self.conditions: list[Condition] = []
        self.by_tag: dict[str, list[Condition]] = {}
        self.setpoints: dict[str, list[Deviation]] = {}
        for rule in plant.alarms.rules:
            for tag in rule_tags(rule, names):
                item = condition(rule, tag)
                self.conditions.append(item)
                self.by_tag.setdefault(tag, []).append(item)
                if isinstance(item, Deviation) and rule.setpoint_tag:
                    self.setpoints.setdefault(rule.setpoint_tag, []).append(item)
        self.monitors: dict[str, list[MaintenanceDue]] = {}
        monitoring = plant.alarms.condition_monitoring
        for asset in monitoring.assets:
            for asset_rule, monitored in asset_rules(asset):
                tag = asset.vibration_tag
                item = (MaintenanceDue(asset_rule, tag, monitored, monitoring) if monitored
                        else condition(asset_rule, tag))  # fmt: skip
                self.conditions.append(item)
                self.by_tag.setdefault(tag, []).append(item)
                if isinstance(item, MaintenanceDue):
                    self.monitors.setdefault(tag, []).append(item)
        for button in plant.alarms.andon:
            press = AndonButton(button_rule(button), button.tag, button)
            self.conditions.append(press)
            self.by_tag.setdefault(button.tag, []).append(press)
        self._line_states: dict[str, tuple[str, dict[int, str]]] = {}  # state tag → (line, code → state)
        self.line_state: dict[str, str] = {}
        self.suppressed: set[tuple[str, str]] = set()
        self._by_line: dict[str, list[Condition]] = {}
        for each in self.conditions:
            if each.rule.line:
                self._by_line.setdefault(each.rule.line, []).append(each)
        for line in plant.lines():
            binding = line.bindings.state
            if binding is not None and line.id in self._by_line:
                codes = {code: state.value for state, values in binding.codes.items() for code in values}
                self._line_states[binding.tag] = (line.id, codes)
        self._pending: set[Condition] = set()

    def restore(self, active: dict[tuple[str, str], bool], suppressed: Iterable[tuple[str, str]] = ()) -> None:
        """Continue from the stored states: points with an open active occurrence stay active."""
        for item in self.conditions:
            if item.key in active:
                item.restore(active[item.key])
        self.suppressed = set(suppressed)

    def evaluate(self, samples: list[Sample]) -> list[Change]:
        """The changes these readings cause, in reading order."""
        changes: list[Change] = []
        by_tag, setpoints, line_states = self.by_tag, self.setpoints, self._line_states
        for sample in samples:
            tag = sample.tag
            good = sample.status >> 30 != 2
            if tag in setpoints and good and isinstance(sample.value, float | int):
                for deviation in setpoints[tag]:
                    deviation.setpoint = float(sample.value)
            if tag in line_states:
                changes.extend(self._line_state(tag, sample, good))
            conditions = by_tag.get(tag)
            if conditions is None:
                continue
            t = sample.time.timestamp()
            value = sample.value
            for item in conditions:
                result = item.update(value, good, t)
                if item.pending is not None:
                    self._pending.add(item)
                if result:
                    changes.append(self._change(item, result, t))
            if tag in self.monitors:
                for monitor in self.monitors[tag]:
                    if monitor.fresh:
                        monitor.fresh = False
                        changes.append(Change("forecast", monitor, sample.time, monitor.value, monitor.latest))
        return changes

    def due(self, now: float) -> list[Change]:
        """Changes whose delay ran out by ``now`` (POSIX seconds) without a new reading."""
        changes = []
        for item in list(self._pending):
            flip = item.flip_time()
            if flip is None:
                self._pending.discard(item)
            elif flip <= now and item.due(flip):
                self._pending.discard(item)
                changes.append(self._change(item, RAISED if item.active else CLEARED, flip))
        return changes

    def _change(self, item: Condition, result: int, t: float) -> Change:
        latest = item.latest if isinstance(item, MaintenanceDue) else None
        return Change("raised" if result == RAISED else "cleared", item, _moment(t), item.value, latest)

    def _line_state(self, tag: str, sample: Sample, good: bool) -> list[Change]:
        line, codes = self._line_states[tag]
        value = sample.value
        state = codes.get(int(value), "unknown") if good and isinstance(value, float | int) else "unknown"
        if self.line_state.get(line) == state:
            return []
        self.line_state[line] = state
        changes = []
        for item in self._by_line[line]:
            hide = state in item.rule.suppress_in
            if hide and item.key not in self.suppressed:
                self.suppressed.add(item.key)
                changes.append(Change("suppressed", item, sample.time))
            elif not hide and item.key in self.suppressed:
                self.suppressed.discard(item.key)
                changes.append(Change("unsuppressed", item, sample.time))
        return changes
