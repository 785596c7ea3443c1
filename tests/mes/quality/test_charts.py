"""Control chart limits and rule violations on published textbook datasets.

Sources are cited next to each dataset in tests/mes/quality/datasets.py.
"""

from __future__ import annotations

import math
import statistics

import pytest

from mes.quality.charts import ChartData, ChartLimits, ChartType, compute_limits, plot
from mes.quality.constants import constants
from mes.quality.errors import QualityError
from mes.quality.rules import NELSON, WESTERN_ELECTRIC, check_rules, default_rules
from tests.mes.quality.datasets import (
    CIRCUIT_BOARD_NONCONFORMITIES,
    NIST_FLOWRATE,
    ORANGE_JUICE_NONCONFORMING,
    ORANGE_JUICE_SAMPLE_SIZE,
    PISTON_RINGS,
    PISTON_RINGS_PHASE_ONE,
)


def beyond_limits(violations) -> list[int]:
    """1-based sample numbers flagged by rule 1, as textbooks number them."""
    return sorted({v.index + 1 for v in violations if v.rule in ("nelson1", "we1")})


def test_xbar_r_phase_one_limits_of_the_piston_rings() -> None:
    """Montgomery Table 6.3: x̿ = 74.001, R̄ = 0.023, x̄ limits 73.988–74.014 (qcc: 74.00118, 0.02276)."""
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]))
    assert limits.primary.center == pytest.approx(74.00118, abs=5e-6)
    assert limits.secondary.center == pytest.approx(0.02276, abs=5e-6)
    assert limits.primary.ucl == pytest.approx(74.0143, abs=5e-5)
    assert limits.primary.lcl == pytest.approx(73.98805, abs=5e-5)
    assert limits.secondary.ucl == pytest.approx(0.04812, abs=5e-5)  # 0.049 with R̄ rounded to 0.023
    assert limits.secondary.lcl == 0
    assert limits.process_sigma == pytest.approx(0.02276 / 2.326, rel=1e-3)
    assert "R̄/d2" in limits.sigma_estimator
    # Phase I is in control: Montgomery adopts these limits as trial limits.
    phase_one = plot(limits, ChartData(subgroups=PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]))
    assert check_rules(phase_one.primary, ["nelson1"]) == []
    assert check_rules(phase_one.secondary, ["nelson1"]) == []


def test_frozen_piston_ring_limits_flag_the_phase_two_shift() -> None:
    limits = compute_limits(ChartType.xbar_r, ChartData(subgroups=PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]))
    frozen = ChartLimits.from_dict(limits.to_dict())  # as stored in the database
    chart = plot(frozen, ChartData(subgroups=PISTON_RINGS))
    # Recompute by hand which means exceed the frozen UCL x̿ + A2·R̄.
    ucl = 74.001176 + constants(5).A2 * 0.02276
    expected = [i + 1 for i, g in enumerate(PISTON_RINGS) if statistics.fmean(g) > ucl]
    assert expected == [37, 38, 39]
    assert beyond_limits(check_rules(chart.primary, NELSON)) == expected
    # The limits did not move: Phase II points carry the Phase I centre line.
    assert {p.center for p in chart.primary} == {limits.primary.center}
    # Western Electric rule 2 (two of three beyond 2σ) catches the shift earlier, at sample 35.
    we = check_rules(chart.primary, WESTERN_ELECTRIC)
    assert min(v.index + 1 for v in we if v.rule == "we2") == 35
    assert check_rules(chart.secondary, ["nelson1"]) == []  # the spread did not change


def test_imr_limits_of_the_nist_flowrate_example() -> None:
    """NIST/SEMATECH e-Handbook 6.3.2.2: x̄ = 50.81, MR̄ = 1.8778, limits 45.8159–55.8041, MR UCL 6.1349."""
    limits = compute_limits(ChartType.imr, ChartData(values=NIST_FLOWRATE))
    assert limits.primary.center == pytest.approx(50.81, abs=1e-9)
    assert limits.secondary.center == pytest.approx(1.8778, abs=5e-5)
    # The handbook multiplies by the rounded 2.66 (= 3/1.128) and 3.267; we use exact constants.
    assert limits.primary.ucl == pytest.approx(55.8041, abs=0.002)
    assert limits.primary.lcl == pytest.approx(45.8159, abs=0.002)
    assert limits.secondary.ucl == pytest.approx(6.1349, abs=0.002)
    chart = plot(limits, ChartData(values=NIST_FLOWRATE))
    assert len(chart.secondary) == len(NIST_FLOWRATE) - 1
    # The handbook's chart is in control: no rule fires on either chart.
    assert check_rules(chart.primary, NELSON) == []
    assert check_rules(chart.secondary, ["nelson1"]) == []


def test_imr_frozen_limits_catch_a_step_and_a_trend() -> None:
    limits = compute_limits(ChartType.imr, ChartData(values=NIST_FLOWRATE))
    sigma = limits.process_sigma
    later = [50.81 + 3.5 * sigma] + [50.81 + 0.5 * sigma] * 9 + [49.0 + 0.2 * i for i in range(6)]
    chart = plot(limits, ChartData(values=later))
    found = {(v.rule, v.index) for v in check_rules(chart.primary, NELSON)}
    assert ("nelson1", 0) in found  # the 3.5σ point
    assert ("nelson2", 9) in found  # nine in a row above the centre line (points 1..9)
    assert ("nelson3", 15) in found  # six rising points (10..15)


def test_p_chart_of_montgomerys_orange_juice_cans() -> None:
    """Montgomery Example 7.1: p̄ = 0.2313, UCL 0.4102, LCL 0.0524; samples 15 and 23 out of control;
    revised without them p̄ = 0.2150, UCL 0.3893, LCL 0.0407."""
    sizes = [ORANGE_JUICE_SAMPLE_SIZE] * len(ORANGE_JUICE_NONCONFORMING)
    data = ChartData(counts=ORANGE_JUICE_NONCONFORMING, sizes=sizes)
    limits = compute_limits(ChartType.p, data)
    pbar = sum(ORANGE_JUICE_NONCONFORMING) / sum(sizes)
    assert pbar == pytest.approx(0.2313, abs=5e-5)
    assert limits.primary.center == pytest.approx(pbar)
    assert limits.primary.ucl == pytest.approx(0.4102, abs=1e-4)
    assert limits.primary.lcl == pytest.approx(0.0524, abs=1e-4)
    chart = plot(limits, data)
    assert beyond_limits(check_rules(chart.primary, default_rules(ChartType.p))) == [15, 23]
    revised = compute_limits(ChartType.p, data, exclude=[14, 22])
    assert revised.primary.center == pytest.approx(0.2150, abs=5e-5)
    assert revised.primary.ucl == pytest.approx(0.3893, abs=1e-4)
    assert revised.primary.lcl == pytest.approx(0.0407, abs=1e-4)
    assert revised.excluded == (14, 22)


def test_c_chart_of_montgomerys_circuit_boards() -> None:
    """Montgomery Example 7.3: c̄ = 19.85, UCL 33.22, LCL 6.48; samples 6 and 20 outside."""
    data = ChartData(counts=CIRCUIT_BOARD_NONCONFORMITIES)
    limits = compute_limits(ChartType.c, data)
    assert limits.primary.center == pytest.approx(19.85, abs=0.005)
    assert limits.primary.ucl == pytest.approx(33.22, abs=0.01)
    assert limits.primary.lcl == pytest.approx(6.48, abs=0.01)
    chart = plot(limits, data)
    assert beyond_limits(check_rules(chart.primary, default_rules(ChartType.c))) == [6, 20]


def test_zone_rules_are_off_for_attribute_charts_by_default() -> None:
    assert default_rules(ChartType.p) == ("nelson1", "nelson2", "nelson3", "nelson4")
    assert default_rules(ChartType.u, "western_electric") == ("we1", "we4")
    assert default_rules(ChartType.xbar_r) == NELSON


def test_p_chart_with_varying_sample_sizes_has_limits_per_point() -> None:
    counts, sizes = [5, 9, 3, 12], [100, 200, 50, 400]
    limits = compute_limits(ChartType.p, ChartData(counts=counts, sizes=sizes))
    pbar = sum(counts) / sum(sizes)
    chart = plot(limits, ChartData(counts=counts, sizes=sizes))
    for point, n in zip(chart.primary, sizes, strict=True):
        assert point.ucl == pytest.approx(pbar + 3 * math.sqrt(pbar * (1 - pbar) / n))
        assert point.lcl == pytest.approx(max(0.0, pbar - 3 * math.sqrt(pbar * (1 - pbar) / n)))


def test_xbar_s_and_u_and_np_charts_use_their_textbook_formulas() -> None:
    groups = PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]
    limits = compute_limits(ChartType.xbar_s, ChartData(subgroups=groups))
    sbar = statistics.fmean(statistics.stdev(g) for g in groups)
    assert limits.primary.ucl == pytest.approx(limits.primary.center + constants(5).A3 * sbar)
    assert limits.secondary.ucl == pytest.approx(constants(5).B4 * sbar)
    u = compute_limits(ChartType.u, ChartData(counts=[14, 12, 20], sizes=[10, 8, 13]))
    ubar = 46 / 31
    assert u.primary.ucl == pytest.approx(ubar + 3 * math.sqrt(ubar / (31 / 3)))
    np_limits = compute_limits(ChartType.np, ChartData(counts=ORANGE_JUICE_NONCONFORMING, sizes=[50] * 30))
    assert np_limits.primary.center == pytest.approx(50 * 0.23133333)
    assert np_limits.primary.ucl == pytest.approx(50 * 0.41023912, abs=1e-4)


def test_bad_chart_input_gets_a_clear_error() -> None:
    with pytest.raises(QualityError, match="one size"):
        compute_limits(ChartType.xbar_r, ChartData(subgroups=[[1, 2, 3], [1, 2]]))
    with pytest.raises(QualityError, match="exceeds its sample size"):
        compute_limits(ChartType.p, ChartData(counts=[3, 60], sizes=[50, 50]))
    with pytest.raises(QualityError, match="at least 2"):
        compute_limits(ChartType.imr, ChartData(values=[1.0]))
    with pytest.raises(QualityError, match="unknown SPC rule"):
        check_rules([], ["nelson9"])
