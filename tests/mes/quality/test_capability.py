"""Cp/Cpk/Pp/Ppk: expected values are computed here from the data and the formulas."""

from __future__ import annotations

import itertools
import statistics

import pytest

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
