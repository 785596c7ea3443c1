"""Run rules that flag a process out of control: Nelson (1984) and Western Electric (1956).

Each rule looks at the sequence of plotted points with their centre line and
σ of the plotted statistic (per point, so variable-size p and u charts work).
A violation is reported at the point that completes the pattern, with the
positions of the whole pattern, so a run that goes on flags every further
point, as Minitab and qcc do. A "k of m" rule completes at its k-th point
beyond the zone, which must itself be beyond it; at the very start of a chart
fewer than m points may already hold k.

Zone rules (those that use the 1σ/2σ zones: Nelson 5–8, Western Electric 2–3)
assume a roughly normal, symmetric statistic. Attribute charts (p, np, c, u)
are skewed, so those rules are off for them by default (DOMAIN.md); rule 1 and
the run rules (2–4) stay on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from mes.quality.charts import ChartType, Point
from mes.quality.errors import QualityError


@dataclass(frozen=True)
class Rule:
    code: str
    description: str
    window: int
    zone: bool  # uses the 1σ/2σ zones
    least: int = 0  # k of an "k of m" rule: the pattern can complete before m points exist


@dataclass(frozen=True)
class Violation:
    rule: str
    index: int  # position of the point that completes the pattern
    points: tuple[int, ...]
    description: str


def _side(p: Point) -> int:
    return (p.value > p.center) - (p.value < p.center)


def _z(p: Point) -> float:
    return (p.value - p.center) / p.sigma if p.sigma > 0 else 0.0


def _beyond_limits(w: Sequence[Point]) -> bool:
    return w[-1].beyond_limits


def _same_side(w: Sequence[Point]) -> bool:
    sides = {_side(p) for p in w}
    return len(sides) == 1 and 0 not in sides


def _trend(w: Sequence[Point]) -> bool:
    steps = [b.value - a.value for a, b in itertools.pairwise(w)]
    return all(s > 0 for s in steps) or all(s < 0 for s in steps)


def _alternating(w: Sequence[Point]) -> bool:
    steps = [b.value - a.value for a, b in itertools.pairwise(w)]
    return all(s != 0 for s in steps) and all((a > 0) != (b > 0) for a, b in itertools.pairwise(steps))


def _k_of_window_beyond(k: int, sigmas: float) -> Callable[[Sequence[Point]], bool]:
    def check(w: Sequence[Point]) -> bool:
        if abs(_z(w[-1])) <= sigmas:  # the completing point must be part of the pattern
            return False
        side = 1 if _z(w[-1]) > 0 else -1
        return sum(1 for p in w if side * _z(p) > sigmas) >= k

    return check


def _within_one_sigma(w: Sequence[Point]) -> bool:
    return all(abs(_z(p)) < 1 for p in w)


def _all_beyond_one_sigma(w: Sequence[Point]) -> bool:
    return all(abs(_z(p)) > 1 for p in w)


_CHECKS: dict[str, tuple[Rule, Callable[[Sequence[Point]], bool]]] = {
    "nelson1": (Rule("nelson1", "one point beyond the 3σ control limits", 1, False), _beyond_limits),
    "nelson2": (Rule("nelson2", "nine points in a row on one side of the centre line", 9, False), _same_side),
    "nelson3": (Rule("nelson3", "six points in a row steadily increasing or decreasing", 6, False), _trend),
    "nelson4": (Rule("nelson4", "fourteen points in a row alternating up and down", 14, False), _alternating),
    "nelson5": (Rule("nelson5", "two of three points beyond 2σ on the same side", 3, True, 2),
                _k_of_window_beyond(2, 2.0)),
    "nelson6": (Rule("nelson6", "four of five points beyond 1σ on the same side", 5, True, 4),
                _k_of_window_beyond(4, 1.0)),
    "nelson7": (Rule("nelson7", "fifteen points in a row within 1σ of the centre line", 15, True),
                _within_one_sigma),
    "nelson8": (Rule("nelson8", "eight points in a row beyond 1σ, on either side", 8, True), _all_beyond_one_sigma),
    "we1": (Rule("we1", "one point beyond the 3σ control limits", 1, False), _beyond_limits),
    "we2": (Rule("we2", "two of three points beyond 2σ on the same side", 3, True, 2), _k_of_window_beyond(2, 2.0)),
    "we3": (Rule("we3", "four of five points beyond 1σ on the same side", 5, True, 4), _k_of_window_beyond(4, 1.0)),
    "we4": (Rule("we4", "eight points in a row on one side of the centre line", 8, False), _same_side),
}

RULES: dict[str, Rule] = {code: rule for code, (rule, _) in _CHECKS.items()}
NELSON = tuple(f"nelson{i}" for i in range(1, 9))
WESTERN_ELECTRIC = ("we1", "we2", "we3", "we4")


def default_rules(chart: ChartType, rule_set: str = "nelson") -> tuple[str, ...]:
    """Rules on by default: the whole set for variables charts, no zone rules for attribute charts."""
    codes = {"nelson": NELSON, "western_electric": WESTERN_ELECTRIC}.get(rule_set)
    if codes is None:
        raise QualityError(f"rule set must be 'nelson' or 'western_electric', got {rule_set!r}")
    if ChartType(chart).is_attribute:
        return tuple(c for c in codes if not RULES[c].zone)
    return codes


def check_rules(points: Sequence[Point], rules: Iterable[str]) -> list[Violation]:
    """Every violation of ``rules`` in ``points``, ordered by position then rule."""
    codes = list(rules)
    unknown = [c for c in codes if c not in _CHECKS]
    if unknown:
        raise QualityError(f"unknown SPC rule(s) {unknown}; known: {sorted(_CHECKS)}")
    found: list[Violation] = []
    for end in range(len(points)):
        for code in codes:
            rule, check = _CHECKS[code]
            start = end - rule.window + 1
            if start < 0:
                if not rule.least or end + 1 < rule.least:
                    continue
                start = 0  # the first points of a chart can already hold k of m
            window = points[start : end + 1]
            if check(window):
                found.append(Violation(code, points[end].index, tuple(p.index for p in window), rule.description))
    return found
