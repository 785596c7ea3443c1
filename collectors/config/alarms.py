"""The ``alarms:`` section of a plant config: alarm rules, who gets told, andon and motor monitoring.

It lives with the rest of the plant file's models (like products and shift
patterns) so one loader can name file, line and field for every mistake; the
alarm domain itself (evaluation, ISA-18.2 states, dispatch) is ``mes.alarms``.

A rule applies to one tag (``tag``) or to every tag whose name matches a
shell-style pattern (``tags: "motor_*_vibration"``)::

    alarms:
      rules:
        - {name: autoclave_temp_high, tag: autoclave_temp, kind: high, limit: 190, deadband: 2,
           on_delay: 5, priority: high, area: impregnation, role: operator}
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from collectors.config.base import Identifier, Strict

if TYPE_CHECKING:
    from collectors.config.models import Plant

Kind = Literal["high", "low", "high_high", "low_low", "rate_of_change", "digital", "deviation", "bad_quality",
               "maintenance_due"]
Priority = Literal["low", "medium", "high", "urgent"]
LIMIT_KINDS = ("high", "low", "high_high", "low_low")
Loc = tuple[str | int, ...]


class AlarmRule(Strict):
    """One alarm rule. Times are seconds; ``limit`` is a value (high/low), a rate in units per minute
    (rate_of_change) or the allowed difference from the setpoint tag (deviation)."""

    name: Identifier
    tag: Identifier | None = Field(default=None, description="one tag")
    tags: str | None = Field(default=None, description="a pattern of tag names (fnmatch: motor_*_temp)")
    kind: Kind
    limit: float | None = None
    deadband: float = Field(default=0.0, ge=0, description="the value must come back this far to clear")
    on_delay: float = Field(default=0.0, ge=0, le=86400, description="s the condition must hold to raise")
    off_delay: float = Field(default=0.0, ge=0, le=86400, description="s the condition must be gone to clear")
    state: float | bool | None = Field(default=None, description="digital: the value that is the alarm")
    setpoint_tag: Identifier | None = Field(default=None, description="deviation: the tag holding the setpoint")
    priority: Priority = "medium"
    area: Identifier | None = None
    line: Identifier | None = Field(default=None, description="suppressed while this line is in suppress_in")
    suppress_in: list[str] = Field(default_factory=lambda: ["planned_stop"],
                                   description="line states that suppress the rule by design")
    role: str = Field(default="operator", description="the role on shift that answers it")
    latched: bool = Field(default=False, description="stays until an operator resets it")
    ack_within: float | None = Field(default=None, gt=0, le=7 * 86400,
                                     description="s until an unacknowledged alarm escalates")
    message: str = ""

    @model_validator(mode="after")
    def _complete(self) -> AlarmRule:
        if (self.tag is None) == (self.tags is None):
            raise ValueError("give either tag (one tag) or tags (a pattern)")
        if self.kind in (*LIMIT_KINDS, "rate_of_change", "deviation") and self.limit is None:
            raise ValueError(f"a {self.kind} rule needs a limit")
        if self.kind == "rate_of_change" and self.limit is not None and self.limit <= 0:
            raise ValueError("a rate_of_change limit is a positive rate (units per minute)")
        if self.kind == "deviation" and (self.setpoint_tag is None or (self.limit or 0) <= 0):
            raise ValueError("a deviation rule needs setpoint_tag and a positive limit")
        if self.kind == "digital" and self.state is None:
            raise ValueError("a digital rule needs state: the value that is the alarm (true, 0, 3...)")
        return self


class Escalation(Strict):
    """Who hears about an unacknowledged alarm next: a level per step, the first after ``ack_within``."""

    role: str
    after: float = Field(gt=0, le=7 * 86400, description="s after the previous level")


class Channel(Strict):
    """A way to reach people: a webhook (generic JSON, WeCom or DingTalk group robot) or e-mail."""

    name: Identifier
    kind: Literal["webhook", "wecom", "dingtalk", "email"]
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    to: list[str] = Field(default_factory=list, description="e-mail addresses")
    roles: list[str] = Field(default_factory=list, description="roles this channel reaches (empty: all)")
    areas: list[Identifier] = Field(default_factory=list, description="areas it serves (empty: all)")
    shifts: list[Identifier] = Field(default_factory=list, description="the shifts whose team it reaches "
                                     "(empty: every shift)")
    secret: str | None = Field(default=None, description="DingTalk: the robot's signing secret (use ${VAR})")

    @model_validator(mode="after")
    def _target(self) -> Channel:
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs to: [addresses]")
        if self.kind != "email" and not self.url:
            raise ValueError(f"a {self.kind} channel needs url")
        return self


class Smtp(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "linebrain@localhost"
    starttls: bool = False
    username: str | None = None
    password: str | None = None


class Dispatch(Strict):
    channels: list[Channel] = Field(default_factory=list)
    escalation: list[Escalation] = Field(default_factory=list)
    smtp: Smtp = Smtp()
    retry_after: float = Field(default=30.0, gt=0, le=3600, description="s before a failed notice is sent again")
    max_attempts: int = Field(default=5, ge=1, le=100)


# ISO 20816-3 zone boundaries A/B, B/C, C/D in mm/s (velocity RMS), per machine group and foundation.
ISO_20816_3: dict[tuple[int, str], tuple[float, float, float]] = {
    (1, "rigid"): (2.3, 4.5, 7.1), (1, "flexible"): (3.5, 7.1, 11.0),
    (2, "rigid"): (1.4, 2.8, 4.5), (2, "flexible"): (2.3, 4.5, 7.1),
}  # fmt: skip


class Asset(Strict):
    """A motor (or pump, fan...) under condition monitoring."""

    id: Identifier
    name: str = ""
    vibration_tag: Identifier = Field(description="velocity RMS, mm/s")
    temperature_tag: Identifier | None = Field(default=None, description="bearing temperature")
    torque_tag: Identifier | None = None
    group: Literal[1, 2] = Field(default=2, description="ISO 20816-3 group: 1 = 300 kW–50 MW, 2 = 15–300 kW")
    foundation: Literal["rigid", "flexible"] = "rigid"
    zones: tuple[float, float, float] | None = Field(default=None, description="A/B, B/C, C/D in mm/s "
                                                     "(default: the ISO 20816-3 table)")
    baseline: float | None = Field(default=None, gt=0, description="healthy velocity, mm/s (default: learned)")
    alert: float | None = Field(default=None, gt=0, description="ALARM level (default: baseline + 25% of B/C, "
                                "never above B/C)")
    trip: float | None = Field(default=None, gt=0, description="TRIP level (default: C/D)")
    lead_time_days: float = Field(default=7.0, gt=0, le=365, description="raise maintenance due this long "
                                  "before the forecast reaches zone D")
    area: Identifier | None = None
    line: Identifier | None = None
    equipment: Identifier | None = Field(default=None, description="the work unit whose fault stops count as "
                                         "this asset's failures (MTBF/MTTR)")
    role: str = "maintenance"
    work_orders: bool = Field(default=True, description="open a maintenance work order with the alarm")

    @model_validator(mode="after")
    def _ordered_zones(self) -> Asset:
        a_b, b_c, c_d = self.boundaries
        if not 0 < a_b < b_c < c_d:
            raise ValueError("zones must rise: A/B < B/C < C/D")
        return self

    @property
    def boundaries(self) -> tuple[float, float, float]:
        return self.zones or ISO_20816_3[(self.group, self.foundation)]

    def alert_level(self) -> float:
        b_c = self.boundaries[1]
        if self.alert is not None:
            return self.alert
        return min(self.baseline + 0.25 * b_c, b_c) if self.baseline is not None else b_c

    def trip_level(self) -> float:
        return self.trip if self.trip is not None else self.boundaries[2]


class ConditionMonitoring(Strict):
    assets: list[Asset] = Field(default_factory=list)
    trend_window_days: float = Field(default=7.0, gt=0, le=365, description="the fit looks back this far")
    bucket_minutes: float = Field(default=60.0, gt=0, le=1440, description="readings are averaged per bucket")
    min_points: int = Field(default=6, ge=3, description="buckets needed before a forecast")
    min_fit: float = Field(default=0.6, ge=0, le=1, description="R² a trend needs to count")
    forecast_margin: float = Field(default=0.5, ge=0, le=2, description="safety margin on the lead time "
                                   "(0.5: raise when zone D is forecast within 1.5 × lead time)")
    min_rise: float = Field(default=0.15, ge=0, le=10, description="a forecast counts only once the velocity "
                            "is this share above the baseline (0.15: 15%), so noise never raises it")


class AndonButtonConfig(Strict):
    """A PLC button (or any digital tag) that calls for help on a line."""

    line: Identifier
    tag: Identifier
    kind: Literal["material", "maintenance", "quality", "process", "custom"]
    label: str = ""
    state: float | bool = Field(default=True, description="the value that means pressed")
    role: str | None = Field(default=None, description="who answers (default by kind)")


class AlarmSettings(Strict):
    rules: list[AlarmRule] = Field(default_factory=list)
    andon: list[AndonButtonConfig] = Field(default_factory=list)
    dispatch: Dispatch = Dispatch()
    condition_monitoring: ConditionMonitoring = ConditionMonitoring()
    flood_per_10_min: int = Field(default=10, ge=1, description="more annunciations than this is a flood")
    chatter_count: int = Field(default=3, ge=2, description="this many in chatter_window s is chattering")
    chatter_window: float = Field(default=60.0, gt=0)


def rule_tags(rule: AlarmRule, tag_names: list[str]) -> list[str]:
    """The tags a rule applies to, in config order."""
    if rule.tag is not None:
        return [rule.tag] if rule.tag in tag_names else []
    pattern = rule.tags or ""
    return [name for name in tag_names if fnmatch.fnmatchcase(name, pattern)]


def alarm_checks(plant: Plant) -> Iterator[tuple[Loc, str]]:
    """Cross references of the alarms section: tags, areas, lines and unique rule names."""
    settings: AlarmSettings = plant.alarms
    tag_names = [tag.name for tag in plant.tags]
    known_tags = set(tag_names)
    areas = {area.id for area in plant.areas}
    lines = {line.id for line in plant.lines()}
    seen: dict[str, int] = {}
    for index, rule in enumerate(settings.rules):
        loc: Loc = ("alarms", "rules", index)
        if rule.name in seen:
            yield (*loc, "name"), f"duplicate rule name {rule.name!r} (first at alarms.rules[{seen[rule.name]}])"
        seen.setdefault(rule.name, index)
        if rule.tag is not None and rule.tag not in known_tags:
            yield (*loc, "tag"), f"unknown tag {rule.tag!r}"
        elif rule.tags is not None and not rule_tags(rule, tag_names):
            yield (*loc, "tags"), f"the pattern {rule.tags!r} matches no tag"
        if rule.setpoint_tag is not None and rule.setpoint_tag not in known_tags:
            yield (*loc, "setpoint_tag"), f"unknown tag {rule.setpoint_tag!r}"
        if rule.area is not None and rule.area not in areas:
            yield (*loc, "area"), f"unknown area {rule.area!r}"
        if rule.line is not None and rule.line not in lines:
            yield (*loc, "line"), f"unknown line {rule.line!r}"
        if rule.kind == "maintenance_due":
            yield (*loc, "kind"), "maintenance_due alarms come from alarms.condition_monitoring.assets"
    for index, button in enumerate(settings.andon):
        loc = ("alarms", "andon", index)
        if button.line not in lines:
            yield (*loc, "line"), f"unknown line {button.line!r}"
        if button.tag not in known_tags:
            yield (*loc, "tag"), f"unknown tag {button.tag!r}"
        if button.kind == "custom" and not button.label:
            yield (*loc, "label"), "a custom andon call needs a label"
    equipment = {e.id for line in plant.lines() for e in line.equipment} | lines
    seen_assets: set[str] = set()
    for index, asset in enumerate(settings.condition_monitoring.assets):
        loc = ("alarms", "condition_monitoring", "assets", index)
        if asset.id in seen_assets:
            yield (*loc, "id"), f"duplicate asset id {asset.id!r}"
        seen_assets.add(asset.id)
        for field in ("vibration_tag", "temperature_tag", "torque_tag"):
            name = getattr(asset, field)
            if name is not None and name not in known_tags:
                yield (*loc, field), f"unknown tag {name!r}"
        if asset.area is not None and asset.area not in areas:
            yield (*loc, "area"), f"unknown area {asset.area!r}"
        if asset.line is not None and asset.line not in lines:
            yield (*loc, "line"), f"unknown line {asset.line!r}"
        if asset.equipment is not None and asset.equipment not in equipment:
            yield (*loc, "equipment"), f"unknown equipment {asset.equipment!r}"
