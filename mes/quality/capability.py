"""Process capability (Cp, Cpk) and performance (Pp, Ppk).

Capability uses the *within-subgroup* σ̂ (what the process could do if its mean
held still): R̄/d2 or S̄/c4 for subgroups, MR̄/d2(2) for individuals.
Performance uses the *overall* sample standard deviation (what the customer
got). The two are often confused, so every result names its estimator.

Cp = (USL − LSL)/(6σ̂) and Cpk = min(USL − x̄, x̄ − LSL)/(3σ̂); with a single
specification limit only the one-sided index exists (Cp is then None).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from mes.quality.charts import check_measurements
from mes.quality.constants import constants, d2
from mes.quality.errors import QualityError

CAPABLE = 1.33


class SigmaEstimator(StrEnum):
    rbar_d2 = "rbar_d2"  # subgroups: R̄/d2(n)
    sbar_c4 = "sbar_c4"  # subgroups: S̄/c4(n)
    mrbar_d2 = "mrbar_d2"  # individuals: MR̄/d2(2)


@dataclass(frozen=True)
class Capability:
    mean: float
    count: int
    lsl: float | None
    usl: float | None
    sigma_within: float
    sigma_overall: float
    estimator: str  # how sigma_within was estimated, e.g. "R̄/d2 (n=5)"
    cp: float | None
    cpk: float | None
    cpl: float | None
    cpu: float | None
    pp: float | None
    ppk: float | None

    @property
    def capable(self) -> bool | None:
        """Cpk above 1.33, the usual customer requirement (None when it cannot be computed)."""
        return None if self.cpk is None else self.cpk > CAPABLE


def capability(
    lsl: float | None,
    usl: float | None,
    *,
    subgroups: Sequence[Sequence[float]] | None = None,
    values: Sequence[float] | None = None,
    estimator: SigmaEstimator | str | None = None,
) -> Capability:
    """Cp/Cpk/Pp/Ppk of ``subgroups`` (equal size ≥ 2) or of individual ``values`` (in time order).

    The default estimator is R̄/d2 for subgroups and MR̄/d2 for individuals.
    """
    if lsl is None and usl is None:
        raise QualityError("capability needs at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and lsl >= usl:
        raise QualityError(f"lsl {lsl} must be below usl {usl}")
    if (subgroups is None) == (values is None):
        raise QualityError("give either subgroups or individual values")
    if subgroups is not None:
        data = [float(v) for group in subgroups for v in group]
        check_measurements(data)
        sizes = {len(g) for g in subgroups}
        if len(sizes) != 1 or min(sizes) < 2:
            raise QualityError("subgroups must all have the same size, at least 2")
        n = sizes.pop()
        chosen = SigmaEstimator(estimator or SigmaEstimator.rbar_d2)
        if chosen is SigmaEstimator.rbar_d2:
            sigma_within = statistics.fmean(max(g) - min(g) for g in subgroups) / constants(n).d2
            label = f"R̄/d2 (n={n}, d2={constants(n).d2:.4f})"
        elif chosen is SigmaEstimator.sbar_c4:
            sigma_within = statistics.fmean(statistics.stdev(g) for g in subgroups) / constants(n).c4
            label = f"S̄/c4 (n={n}, c4={constants(n).c4:.4f})"
        else:
            raise QualityError("estimator mrbar_d2 is for individual values; use rbar_d2 or sbar_c4")
    else:
        data = [float(v) for v in values or []]
        check_measurements(data)
        if len(data) < 2:
            raise QualityError("capability needs at least 2 values")
        if estimator not in (None, SigmaEstimator.mrbar_d2, "mrbar_d2"):
            raise QualityError("individual values use the mrbar_d2 estimator")
        moving = [abs(b - a) for a, b in itertools.pairwise(data)]
        sigma_within = statistics.fmean(moving) / d2(2)
        label = f"MR̄/d2 (span 2, d2={d2(2):.4f})"
    mean = statistics.fmean(data)
    sigma_overall = statistics.stdev(data)
    cp, cpl, cpu, cpk = _indices(mean, sigma_within, lsl, usl)
    pp, _, _, ppk = _indices(mean, sigma_overall, lsl, usl)
    return Capability(mean, len(data), lsl, usl, sigma_within, sigma_overall, label, cp, cpk, cpl, cpu, pp, ppk)


Indices = tuple[float | None, float | None, float | None, float | None]


def _indices(mean: float, sigma: float, lsl: float | None, usl: float | None) -> Indices:
    """(Cp, Cpl, Cpu, Cpk) for ``sigma``; all None when σ is zero or so small (a subnormal float) that
    an index would overflow: no spread to judge, like σ = 0."""
    if sigma <= 0:
        return None, None, None, None
    spread = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    lower = (mean - lsl) / (3 * sigma) if lsl is not None else None
    upper = (usl - mean) / (3 * sigma) if usl is not None else None
    if any(x is not None and not math.isfinite(x) for x in (spread, lower, upper)):
        return None, None, None, None
    k = min(x for x in (lower, upper) if x is not None)
    return spread, lower, upper, k
