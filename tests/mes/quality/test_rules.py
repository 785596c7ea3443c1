"""Each Nelson and Western Electric rule fires on the pattern it describes, at the point that
completes it, and not on a pattern one point short."""

from __future__ import annotations

import pytest

from mes.quality.charts import Point
from mes.quality.rules import check_rules


def points(zs: list[float]) -> list[Point]:
    """Points given in σ units around a centre line of 0 with limits at ±3σ."""
    return [Point(i, z, 0.0, -3.0, 3.0, 1.0) for i, z in enumerate(zs)]


def fired(rule: str, zs: list[float]) -> list[int]:
    return [v.index for v in check_rules(points(zs), [rule])]


ALTERNATING = [0.5 if i % 2 else -0.5 for i in range(14)]


@pytest.mark.parametrize(
    ("rule", "pattern", "short"),
    [
        ("nelson1", [0, 0, 3.2], [0, 0, 2.9]),
        ("nelson2", [0.3] * 9, [0.3] * 8),
        ("nelson3", [-1, -0.5, 0, 0.5, 1, 1.5], [-1, -0.5, 0, 0.5, 1]),
        ("nelson4", ALTERNATING, ALTERNATING[:13]),
        ("nelson5", [2.5, 0, 2.1], [2.5, 0, -2.1]),
        ("nelson6", [1.5, 1.2, 0, 1.1, 1.8], [1.5, 1.2, 0, 0, 1.8]),
        ("nelson7", [0.5, -0.5] * 7 + [0.2], [0.5, -0.5] * 7),
        ("nelson8", [1.5, -1.5] * 4, [1.5, -1.5] * 3 + [1.5]),
        ("we2", [-2.5, -2.2], [-2.5, 0, 0]),
        ("we3", [-1.5, -1.2, -1.1, -1.8], [-1.5, -1.2, 0, 0, -1.8]),
        ("we4", [-0.2] * 8, [-0.2] * 7),
    ],
)
def test_rule_fires_on_its_pattern_and_not_one_point_short(rule: str, pattern: list[float], short: list[float]):
    assert fired(rule, pattern)[-1] == len(pattern) - 1
    assert fired(rule, short) == []


def test_a_run_that_goes_on_flags_every_further_point() -> None:
    assert fired("nelson2", [0.3] * 11) == [8, 9, 10]


def test_a_point_on_the_centre_line_breaks_a_run() -> None:
    assert fired("nelson2", [0.3] * 4 + [0.0] + [0.3] * 4) == []


def test_zone_rules_use_each_points_own_sigma() -> None:
    # A p chart: 0.125 is 2.5σ above p̄ = 0.10 for a large sample (σ 0.01), 1.25σ for a small one (σ 0.02).
    small, large = 0.02, 0.01
    pts = [Point(i, 0.125, 0.10, 0.10 - 3 * s, 0.10 + 3 * s, s) for i, s in enumerate([small, large, large])]
    assert [v.index for v in check_rules(pts, ["nelson5"])] == [2]
    uniform = [Point(i, 0.125, 0.10, 0.04, 0.16, small) for i in range(3)]
    assert check_rules(uniform, ["nelson5"]) == []
