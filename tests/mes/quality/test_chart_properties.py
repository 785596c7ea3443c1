"""Control charts for any data, against an independent model: exact rational arithmetic over the
published constants (Montgomery, Appendix VI; three or four decimals, so compared within their
rounding), never the module's own constants or float code. Plus what must hold whatever the
formula: relabelling subgroups changes nothing, shifting and scaling the data moves the limits
with it, rule 1 flags exactly the points outside the frozen limits."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mes.quality.charts import ChartData, ChartLimits, ChartType, compute_limits, plot
from mes.quality.rules import check_rules

# n: (A2, D3, D4) for X̄–R and (A3, B3, B4) for X̄–S, as published.
XBAR_R = {2: (1.880, 0, 3.267), 3: (1.023, 0, 2.574), 4: (0.729, 0, 2.282), 5: (0.577, 0, 2.114),
          6: (0.483, 0, 2.004), 7: (0.419, 0.076, 1.924), 8: (0.373, 0.136, 1.864), 9: (0.337, 0.184, 1.816),
          10: (0.308, 0.223, 1.777)}  # fmt: skip
XBAR_S = {2: (2.659, 0, 3.267), 3: (1.954, 0, 2.568), 4: (1.628, 0, 2.266), 5: (1.427, 0, 2.089),
          6: (1.287, 0.030, 1.970), 7: (1.182, 0.118, 1.882), 8: (1.099, 0.185, 1.815), 9: (1.032, 0.239, 1.761),
          10: (0.975, 0.284, 1.716)}  # fmt: skip
E2, D4_MR = 2.66, 3.267  # I–MR: 3/d2(2) (printed with two decimals) and D4(2)
ROUNDING = 0.001  # one unit in the third decimal: the printed tables round from rounded d2, d3 (D4(3) = 2.5746)

# Values on a 0.001 grid (a gauge's resolution), so the model's sums are exact.
reading = st.integers(min_value=-1_000_000, max_value=1_000_000).map(lambda i: i / 1000)


@st.composite
def subgroups(draw, sizes: range = range(2, 11)) -> list[list[float]]:
    n = draw(st.sampled_from(sizes))
    k = draw(st.integers(min_value=2, max_value=25))
    return [draw(st.lists(reading, min_size=n, max_size=n)) for _ in range(k)]


def mean(values) -> Fraction:
    values = [Fraction(v) for v in values]
    return sum(values, Fraction(0)) / len(values)


def sample_sd(values: list[float]) -> float:
    m = mean(values)
    return math.sqrt(sum((Fraction(v) - m) ** 2 for v in values) / (len(values) - 1))


def near(actual: float, expected: float, scale: float, rounding: float = ROUNDING) -> bool:
    """Equal within the rounding of one published constant times ``scale`` (R̄, S̄ or MR̄)."""
    return abs(actual - expected) <= rounding * scale * 1.001 + 1e-9 * max(1.0, abs(expected))


@settings(max_examples=80)
@given(groups=subgroups())
def test_xbar_r_limits_match_the_published_table(groups: list[list[float]]) -> None:
    a2, d3, d4 = XBAR_R[len(groups[0])]
    grand = float(mean(mean(g) for g in groups))
    rbar = float(mean(Fraction(max(g)) - Fraction(min(g)) for g in groups))
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=groups))
    assert limits.primary.center == pytest.approx(grand, abs=1e-9)
    assert near(limits.primary.ucl, grand + a2 * rbar, rbar) and near(limits.primary.lcl, grand - a2 * rbar, rbar)
    assert limits.secondary.center == pytest.approx(rbar, abs=1e-9)
    assert near(limits.secondary.ucl, d4 * rbar, rbar) and near(limits.secondary.lcl, d3 * rbar, rbar)


@settings(max_examples=80)
@given(groups=subgroups())
def test_xbar_s_limits_match_the_published_table(groups: list[list[float]]) -> None:
    a3, b3, b4 = XBAR_S[len(groups[0])]
    grand = float(mean(mean(g) for g in groups))
    sbar = sum(sample_sd(g) for g in groups) / len(groups)
    limits = compute_limits(ChartType.xbar_s, ChartData(subgroups=groups))
    assert limits.primary.center == pytest.approx(grand, abs=1e-9)
    assert near(limits.primary.ucl, grand + a3 * sbar, sbar) and near(limits.primary.lcl, grand - a3 * sbar, sbar)
    assert near(limits.secondary.ucl, b4 * sbar, sbar) and near(limits.secondary.lcl, b3 * sbar, sbar)


@settings(max_examples=80)
@given(values=st.lists(reading, min_size=2, max_size=60))
def test_imr_limits_match_the_published_constants(values: list[float]) -> None:
    xbar = float(mean(values))
    mrbar = float(mean(abs(Fraction(b) - Fraction(a)) for a, b in itertools.pairwise(values)))
    limits = compute_limits(ChartType.imr, ChartData(values=values))
    assert limits.primary.center == pytest.approx(xbar, abs=1e-9)
    assert near(limits.primary.ucl, xbar + E2 * mrbar, mrbar, 0.005)
    assert near(limits.primary.lcl, xbar - E2 * mrbar, mrbar, 0.005)
    assert near(limits.secondary.ucl, D4_MR * mrbar, mrbar) and limits.secondary.lcl == 0


@settings(max_examples=80)
@given(data=st.lists(st.tuples(st.integers(0, 50), st.integers(50, 500)), min_size=2, max_size=40))
def test_p_limits_per_point_from_the_binomial_model(data: list[tuple[int, int]]) -> None:
    """p̄ = Σ defectives / Σ inspected; each point's limits p̄ ± 3√(p̄(1−p̄)/nᵢ), clipped to [0, 1]."""
    counts, sizes = [c for c, _ in data], [s for _, s in data]
    pbar = Fraction(sum(counts), sum(sizes))
    chart = plot(compute_limits(ChartType.p, ChartData(counts=counts, sizes=sizes)),
                 ChartData(counts=counts, sizes=sizes))
    for point, (count, size) in zip(chart.primary, data, strict=True):
        half = 3 * math.sqrt(pbar * (1 - pbar) / size)
        assert point.value == pytest.approx(count / size, abs=1e-12)
        assert point.center == pytest.approx(float(pbar), abs=1e-12)
        assert point.ucl == pytest.approx(min(1.0, float(pbar) + half), abs=1e-12)
        assert point.lcl == pytest.approx(max(0.0, float(pbar) - half), abs=1e-12)


def same_limits(a: ChartLimits, b: ChartLimits, tolerance: float) -> None:
    for mine, theirs in ((a.primary, b.primary), (a.secondary, b.secondary)):
        assert theirs is not None and mine is not None
        for name in ("center", "lcl", "ucl", "sigma"):
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=tolerance), name


@settings(max_examples=60)
@given(groups=subgroups(), order=st.randoms(use_true_random=False))
def test_the_order_of_subgroups_and_of_values_within_them_changes_nothing(groups, order) -> None:
    shuffled = [order.sample(g, len(g)) for g in order.sample(groups, len(groups))]
    for chart in (ChartType.xbar_r, ChartType.xbar_s):
        same_limits(compute_limits(chart, ChartData(subgroups=groups)),
                    compute_limits(chart, ChartData(subgroups=shuffled)), 1e-6)


@settings(max_examples=60)
@given(groups=subgroups(), shift=st.integers(-1000, 1000), factor=st.sampled_from([2, 10, 0.5]))
def test_shifting_moves_the_centre_and_scaling_scales_every_limit(groups, shift: int, factor: float) -> None:
    base = compute_limits(ChartType.xbar_r, ChartData(subgroups=groups))
    moved = compute_limits(ChartType.xbar_r, ChartData(subgroups=[[v + shift for v in g] for g in groups]))
    assert moved.primary.center == pytest.approx(base.primary.center + shift, abs=1e-6)
    assert moved.primary.ucl - moved.primary.center == pytest.approx(base.primary.ucl - base.primary.center,
                                                                     abs=1e-6)
    assert moved.secondary.ucl == pytest.approx(base.secondary.ucl, abs=1e-6)
    scaled = compute_limits(ChartType.xbar_r, ChartData(subgroups=[[v * factor for v in g] for g in groups]))
    for name in ("center", "lcl", "ucl"):
        assert getattr(scaled.primary, name) == pytest.approx(getattr(base.primary, name) * factor, abs=1e-6)
        assert getattr(scaled.secondary, name) == pytest.approx(getattr(base.secondary, name) * factor, abs=1e-6)


@settings(max_examples=60)
@given(groups=subgroups(), later=st.lists(reading, min_size=1, max_size=40))
def test_rule_one_flags_exactly_the_points_outside_the_frozen_limits(groups, later: list[float]) -> None:
    n = len(groups[0])
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=groups))
    chart = plot(limits, ChartData(subgroups=[[v] * n for v in later]))
    flagged = {v.index for v in check_rules(chart.primary, ["nelson1"])}
    outside = {i for i, v in enumerate(later) if not limits.primary.lcl <= v <= limits.primary.ucl}
    assert flagged == outside
