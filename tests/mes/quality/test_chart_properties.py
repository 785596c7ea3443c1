"""Properties of the chart arithmetic for any data: limits bracket the centre, a shift of the
data shifts the X̄ limits and leaves the R limits alone, rule 1 flags exactly the points outside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mes.quality.charts import ChartData, ChartType, compute_limits, plot
from mes.quality.rules import check_rules

values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@st.composite
def subgroups(draw) -> list[list[float]]:
    n = draw(st.integers(min_value=2, max_value=12))
    k = draw(st.integers(min_value=2, max_value=30))
    return [draw(st.lists(values, min_size=n, max_size=n)) for _ in range(k)]


@settings(max_examples=60, deadline=None)
@given(groups=subgroups(), shift=st.floats(min_value=-100, max_value=100))
def test_xbar_r_limits_follow_the_data(groups: list[list[float]], shift: float) -> None:
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=groups))
    assert limits.primary.lcl <= limits.primary.center <= limits.primary.ucl
    assert 0 <= limits.secondary.lcl <= limits.secondary.center <= limits.secondary.ucl
    moved = compute_limits(ChartType.xbar_r, ChartData(subgroups=[[v + shift for v in g] for g in groups]))
    assert moved.primary.center == pytest.approx(limits.primary.center + shift, abs=1e-6)
    assert moved.primary.ucl - moved.primary.center == pytest.approx(
        limits.primary.ucl - limits.primary.center, abs=1e-6)
    assert moved.secondary.ucl == pytest.approx(limits.secondary.ucl, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(groups=subgroups(), later=st.lists(values, min_size=1, max_size=40))
def test_rule_one_flags_exactly_the_points_outside_the_frozen_limits(groups, later: list[float]) -> None:
    n = len(groups[0])
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=groups))
    phase_two = [[v] * n for v in later]
    chart = plot(limits, ChartData(subgroups=phase_two))
    flagged = {v.index for v in check_rules(chart.primary, ["nelson1"])}
    outside = {i for i, v in enumerate(later) if not limits.primary.lcl <= v <= limits.primary.ucl}
    assert flagged == outside


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 50), st.integers(50, 500)), min_size=2, max_size=40))
def test_p_limits_stay_within_zero_and_one(data: list[tuple[int, int]]) -> None:
    counts, sizes = [c for c, _ in data], [s for _, s in data]
    limits = compute_limits(ChartType.p, ChartData(counts=counts, sizes=sizes))
    for point in plot(limits, ChartData(counts=counts, sizes=sizes)).primary:
        assert 0 <= point.lcl <= point.center <= point.ucl <= 1
