"""Cp/Cpk/Pp/Ppk: expected values are computed here from the data and the formulas."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mes.bounds import MAGNITUDE
from mes.quality.capability import capability
from mes.quality.constants import constants
from mes.quality.errors import QualityError
from tests.mes.quality.datasets import NIST_FLOWRATE, PISTON_RINGS, PISTON_RINGS_PHASE_ONE

LSL, USL = 73.95, 74.05  # Montgomery's piston ring specification, 74.000 ± 0.05 mm


def test_piston_ring_capability_from_rbar_over_d2() -> None:
    groups = PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]
    values = [v for g in groups for v in g]
    mean = sum(values) / len(values)
    sigma_within = statistics.fmean(max(g) - min(g) for g in groups) / constants(5).d2
    sigma_overall = statistics.stdev(values)
    result = capability(LSL, USL, subgroups=groups)
    assert result.cp == pytest.approx((USL - LSL) / (6 * sigma_within))
    assert result.cpk == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_within))
    assert result.pp == pytest.approx((USL - LSL) / (6 * sigma_overall))
    assert result.ppk == pytest.approx(min(USL - mean, mean - LSL) / (3 * sigma_overall))
    # Montgomery reports Cp ≈ 1.7 for this process (σ̂ = R̄/d2 ≈ 0.0099).
    assert result.cp == pytest.approx(1.70, abs=0.01)
    assert result.capable is True
    assert result.estimator.startswith("R̄/d2 (n=5")


def test_capability_with_sbar_over_c4() -> None:
    groups = PISTON_RINGS[:PISTON_RINGS_PHASE_ONE]
    sigma = statistics.fmean(statistics.stdev(g) for g in groups) / constants(5).c4
    result = capability(LSL, USL, subgroups=groups, estimator="sbar_c4")
    assert result.cp == pytest.approx((USL - LSL) / (6 * sigma))
    assert result.estimator.startswith("S̄/c4")


def test_individuals_capability_uses_moving_ranges_and_one_sided_specs() -> None:
    values = NIST_FLOWRATE
    mean = statistics.fmean(values)
    mrbar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values))
    sigma = mrbar / constants(2).d2
    result = capability(None, 60.0, values=values)
    assert result.cp is None  # Cp needs both limits
    assert result.cpu == pytest.approx((60.0 - mean) / (3 * sigma))
    assert result.cpk == result.cpu
    assert result.ppk == pytest.approx((60.0 - mean) / (3 * statistics.stdev(values)))
    assert result.estimator.startswith("MR̄/d2")


def test_capability_rejects_missing_or_inverted_specs() -> None:
    with pytest.raises(QualityError, match="at least one specification"):
        capability(None, None, values=[1, 2, 3])
    with pytest.raises(QualityError, match="below usl"):
        capability(5, 1, values=[1, 2, 3])


def test_a_sigma_too_small_to_divide_by_gives_no_index_rather_than_infinity() -> None:
    """σ̂ of a subnormal float: every index would overflow to ∞; none is reported, like σ̂ = 0."""
    result = capability(None, MAGNITUDE, values=[0.0, 5e-324, 0.0])
    assert result.sigma_within > 0
    assert (result.cp, result.cpk, result.cpu, result.pp, result.ppk, result.capable) == (None,) * 6


def test_values_beyond_the_bounds_are_refused_before_any_sum() -> None:
    with pytest.raises(QualityError, match="within"):
        capability(0.0, None, values=[0.0, 8.98846567431158e307, 0.0])
    with pytest.raises(QualityError, match="within"):
        capability(0.0, 1.0, subgroups=[[0.0, 1.0], [float("nan"), 0.5]])


measurement = st.floats(min_value=-MAGNITUDE, max_value=MAGNITUDE, allow_nan=False)


@given(values=st.lists(measurement, min_size=2, max_size=60), limits=st.lists(measurement, min_size=2, max_size=2,
                                                                               unique=True).map(sorted))
def test_capability_of_any_values_within_bounds_is_finite_or_absent(values: list[float], limits: list[float]) -> None:
    """Whatever passes the input bounds, the statistics neither overflow nor report an infinite index."""
    result = capability(limits[0], limits[1], values=values)
    for index in (result.mean, result.sigma_within, result.sigma_overall, result.cp, result.cpk, result.pp,
                  result.ppk):
        assert index is None or math.isfinite(index)
    slack = 4 * math.ulp(max(abs(min(values)), abs(max(values))))  # fmean rounds once, after an exact sum
    assert min(values) - slack <= result.mean <= max(values) + slack
