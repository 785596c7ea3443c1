"""Report by exception: which readings of a tag are worth storing.

A poll returns every tag every cycle, but a value that has not moved carries no
news. Per tag we keep the last *stored* sample and store a new one when

- its status (quality) or its text changed, or it became / stopped being None;
- the value moved by more than the absolute ``deadband``;
- the value moved by more than ``deadband_percent`` of the engineering range
  (OPC UA PercentDeadband semantics); a tag without ``range`` uses the percentage
  of the last stored value's magnitude instead (when both deadbands are set,
  a change must exceed both);
- ``heartbeat`` seconds of source time passed since the last stored sample, or
  of receive time while the source time stands still, so a flat line still
  shows up and a dashboard can tell "steady" from "dead" — also from a server
  that does not advance the source timestamp of an unchanged value;
- ``heartbeat`` is 0: every reading is stored.

Comparisons are against the last stored value, not the last read one, so a
slow drift still crosses the deadband eventually (no creep). At start the
collector seeds each tag's last stored sample from the database (:meth:`seed`),
so a restart does not store every unchanged value again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from collectors.config.models import Tag
from collectors.samples import Sample


@dataclass(slots=True)
class _Rule:
    deadband: float
    percent_span: float | None  # deadband_percent × range span, when the tag has a range
    percent: float  # deadband_percent / 100, used when there is no range
    heartbeat: float
    simple: bool = False  # only an absolute deadband and a heartbeat: the fast path decides

    def __post_init__(self) -> None:
        self.simple = self.heartbeat > 0 and self.percent_span is None and not self.percent


@dataclass(slots=True)
class _Last:
    value: float | None
    status: int
    text: str | None
    time_s: float
    rule: _Rule
    received_s: float = -math.inf


_DEFAULT_RULE = _Rule(deadband=0.0, percent_span=None, percent=0.0, heartbeat=0.0)


def _rule_of(tag: Tag) -> _Rule:
    span = (tag.range[1] - tag.range[0]) if tag.range else None
    return _Rule(
        deadband=tag.deadband,
        percent_span=tag.deadband_percent / 100 * span if span is not None and tag.deadband_percent else None,
        percent=tag.deadband_percent / 100,
        heartbeat=tag.heartbeat,
    )


class ReportByException:
    """Filters readings per tag. Not thread-safe: call from one thread (the sink's caller).

    Tags not in the config pass unfiltered (the store rejects them with a reason).
    """

    def __init__(self, tags: Iterable[Tag]) -> None:
        self._rules = {tag.name: _rule_of(tag) for tag in tags}
        self._last: dict[str, _Last] = {}
        self.suppressed = 0

    def filter(self, samples: Iterable[Sample]) -> list[Sample]:
        """The samples to store, in their original order."""
        kept: list[Sample] = []
        keep, last_of = self._keep, self._last
        suppressed = 0
        for sample in samples:
            # Fast path for the usual case — a number, same quality, an absolute deadband — which
            # decides inline; polling hands over every tag every cycle, so this loop is hot.
            last = last_of.get(sample.tag)
            value = sample.value
            if (
                last is not None and (type(value) is float or type(value) is int) and type(last.value) is float
                and sample.status == last.status and sample.text == last.text
            ):  # fmt: skip
                rule = last.rule
                moment, received = sample.time, sample.received
                if rule.simple and type(moment) is datetime and moment.tzinfo is not None:
                    delta = abs(value - last.value)
                    if delta == delta:  # NaN (or inf − inf) takes the careful path
                        time_s = moment.timestamp()
                        # Receive time only matters while the source time stands still (a server that does
                        # not advance it for an unchanged value): looked at only then, off the hot path.
                        if (
                            delta > rule.deadband or time_s - last.time_s >= rule.heartbeat
                            or (time_s <= last.time_s and received is not None
                                and received.timestamp() - last.received_s >= rule.heartbeat)
                        ):  # fmt: skip
                            last.value, last.time_s = float(value), time_s
                            last.received_s = received.timestamp() if received is not None else time_s
                            kept.append(sample)
                        else:
                            suppressed += 1
                        continue
            if keep(sample):
                kept.append(sample)
            else:
                suppressed += 1
        self.suppressed += suppressed
        return kept

    def _keep(self, sample: Sample) -> bool:
        rule = self._rules.get(sample.tag, _DEFAULT_RULE)
        value = sample.value
        try:
            time_s = sample.time.timestamp()
            received_s = sample.received.timestamp() if sample.received is not None else time_s
        except (AttributeError, OverflowError, ValueError):
            return True  # malformed time: let the store reject it with a reason
        last = self._last.get(sample.tag)
        if last is None or rule.heartbeat == 0 or self._changed(rule, last, sample) or (
            time_s - last.time_s >= rule.heartbeat
            or (time_s <= last.time_s and received_s - last.received_s >= rule.heartbeat)
        ):
            numeric = float(value) if isinstance(value, int | float) else None  # bool too
            if last is None:
                self._last[sample.tag] = _Last(numeric, sample.status, sample.text, time_s, rule, received_s)
            else:  # in place: no allocation per stored reading
                last.value, last.status, last.text, last.time_s = numeric, sample.status, sample.text, time_s
                last.received_s = received_s
            return True
        return False

    def seed(self, stored: Iterable[Sample]) -> None:
        """Take ``stored`` (each tag's last sample in the database) as the last stored samples, so the first
        readings after a restart are compared with them instead of being stored as news."""
        for sample in stored:
            value = sample.value
            numeric = float(value) if isinstance(value, int | float) else None
            time_s = sample.time.timestamp()
            received_s = sample.received.timestamp() if sample.received is not None else time_s
            rule = self._rules.get(sample.tag, _DEFAULT_RULE)
            self._last[sample.tag] = _Last(numeric, sample.status, sample.text, time_s, rule, received_s)

    @staticmethod
    def _changed(rule: _Rule, last: _Last, sample: Sample) -> bool:
        if sample.status != last.status or sample.text != last.text:
            return True
        value = sample.value
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float):
            return value is not None or last.value is not None
        if last.value is None:
            return True
        if math.isnan(value) or math.isinf(value) or math.isnan(last.value) or math.isinf(last.value):
            return not (value == last.value or (math.isnan(value) and math.isnan(last.value)))
        delta = abs(value - last.value)
        if delta > rule.deadband:
            if rule.percent_span is not None:
                return delta > rule.percent_span
            if rule.percent:
                return delta > rule.percent * abs(last.value)
            return True
        return False
