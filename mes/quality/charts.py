"""Shewhart control charts: Phase I limits, frozen Phase II limits, plotted points.

A chart is computed in two steps, as SPC practice asks:

1. **Phase I** (:func:`compute_limits`): from a period believed to be in
   control, estimate the centre line and the 3σ limits. Subgroups with an
   assignable cause may be excluded and the limits recomputed.
2. **Phase II** (:func:`plot`): judge new data against those limits *frozen*,
   so a drifting process does not drag its own limits along.

Supported charts: X̄–R, X̄–S, I–MR (variables) and p, np, c, u (attributes).
Variable-size samples are allowed for p and u (limits per point).
The formulas are those of ../shared/DOMAIN.md; constants come from
:mod:`mes.quality.constants`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

from mes.bounds import MAGNITUDE
from mes.quality.constants import constants, d2, e2
from mes.quality.errors import QualityError


class ChartType(StrEnum):
    xbar_r = "xbar_r"
    xbar_s = "xbar_s"
    imr = "imr"
    p = "p"
    np = "np"
    c = "c"
    u = "u"

    @property
    def is_attribute(self) -> bool:
        return self in (ChartType.p, ChartType.np, ChartType.c, ChartType.u)


@dataclass(frozen=True)
class Limits:
    """Centre line and 3σ limits of one chart. ``sigma`` is the standard deviation of
    the plotted statistic (for the zones); for variable-size p/u charts it is the one
    for the average sample size, and points carry their own."""

    center: float
    lcl: float
    ucl: float
    sigma: float


@dataclass(frozen=True)
class ChartLimits:
    """Phase I result, stored and later frozen for Phase II."""

    chart: ChartType
    primary: Limits
    secondary: Limits | None = None  # R, S or MR chart
    subgroup_size: int | None = None  # n of X̄–R / X̄–S / np; None when samples vary
    process_sigma: float | None = None  # σ̂ of the individual values (variables charts)
    sigma_estimator: str = ""
    subgroups_used: int = 0
    excluded: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ChartLimits:
        secondary = data.get("secondary")
        return cls(
            chart=ChartType(data["chart"]),
            primary=Limits(**data["primary"]),
            secondary=Limits(**secondary) if secondary else None,
            subgroup_size=data.get("subgroup_size"),
            process_sigma=data.get("process_sigma"),
            sigma_estimator=data.get("sigma_estimator", ""),
            subgroups_used=data.get("subgroups_used", 0),
            excluded=tuple(data.get("excluded", ())),
        )


@dataclass(frozen=True)
class Point:
    """One plotted point with the limits that apply to it."""

    index: int  # 0-based position in the data given
    value: float
    center: float
    lcl: float
    ucl: float
    sigma: float

    @property
    def beyond_limits(self) -> bool:
        return self.value > self.ucl or self.value < self.lcl


@dataclass
class ChartData:
    """What a chart is computed from.

    - X̄–R, X̄–S: ``subgroups`` (lists of measurements of equal size).
    - I–MR: ``values``.
    - p, np: ``counts`` (nonconforming units) and ``sizes`` (units inspected).
    - c: ``counts`` (nonconformities per inspection unit).
    - u: ``counts`` (nonconformities) and ``sizes`` (inspection units).
    """

    subgroups: list[list[float]] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)

    def length(self, chart: ChartType) -> int:
        if chart in (ChartType.xbar_r, ChartType.xbar_s):
            return len(self.subgroups)
        if chart is ChartType.imr:
            return len(self.values)
        return len(self.counts)

    def without(self, chart: ChartType, excluded: set[int]) -> ChartData:
        keep = [i for i in range(self.length(chart)) if i not in excluded]
        if chart in (ChartType.xbar_r, ChartType.xbar_s):
            return ChartData(subgroups=[self.subgroups[i] for i in keep])
        if chart is ChartType.imr:
            return ChartData(values=[self.values[i] for i in keep])
        sizes = [self.sizes[i] for i in keep] if self.sizes else []
        return ChartData(counts=[self.counts[i] for i in keep], sizes=sizes)


MIN_POINTS = 2


# --------------------------------------------------------------------------- Phase I


def compute_limits(chart: ChartType, data: ChartData, exclude: Sequence[int] = ()) -> ChartLimits:
    """Phase I limits for ``chart`` from ``data``, leaving out the subgroups in ``exclude``
    (0-based positions with an assignable cause)."""
    chart = ChartType(chart)
    _validate(chart, data)
    excluded = tuple(sorted(set(exclude)))
    for i in excluded:
        if not 0 <= i < data.length(chart):
            raise QualityError(f"exclude: subgroup {i} does not exist (0..{data.length(chart) - 1})")
    used = data.without(chart, set(excluded))
    if used.length(chart) < MIN_POINTS:
        raise QualityError(f"{chart.value} chart needs at least {MIN_POINTS} subgroups to compute limits")
    compute = {
        ChartType.xbar_r: _xbar_r,
        ChartType.xbar_s: _xbar_s,
        ChartType.imr: _imr,
        ChartType.p: _p,
        ChartType.np: _np,
        ChartType.c: _c,
        ChartType.u: _u,
    }[chart]
    return replace(compute(used), subgroups_used=used.length(chart), excluded=excluded)


def _validate(chart: ChartType, data: ChartData) -> None:
    if chart in (ChartType.xbar_r, ChartType.xbar_s):
        if not data.subgroups:
            raise QualityError(f"{chart.value} chart needs subgroups of measurements")
        sizes = {len(group) for group in data.subgroups}
        if len(sizes) != 1:
            raise QualityError(f"{chart.value} chart needs subgroups of one size, got sizes {sorted(sizes)}")
        if sizes.pop() < 2:
            raise QualityError(f"{chart.value} chart needs at least 2 measurements per subgroup")
        check_measurements(v for group in data.subgroups for v in group)
    elif chart is ChartType.imr:
        check_measurements(data.values)
    else:
        check_measurements(data.counts)
        check_measurements(data.sizes)
        if any(c < 0 for c in data.counts):
            raise QualityError("counts must not be negative")
        if chart in (ChartType.p, ChartType.np, ChartType.u):
            if len(data.sizes) != len(data.counts):
                raise QualityError(f"{chart.value} chart needs one sample size per count")
            if any(s <= 0 for s in data.sizes):
                raise QualityError("sample sizes must be positive")
        if chart in (ChartType.p, ChartType.np) and any(c > s for c, s in zip(data.counts, data.sizes, strict=True)):
            raise QualityError("a count of nonconforming units exceeds its sample size")
        if chart is ChartType.np and len(set(data.sizes)) > 1:
            raise QualityError("np chart needs a constant sample size; use a p chart for varying sizes")


def check_measurements(values: Iterable[float]) -> None:
    """Every value a measurement (finite, within ±MAGNITUDE), so the sums and squares cannot overflow."""
    for v in values:
        if not (math.isfinite(v) and abs(v) <= MAGNITUDE):
            raise QualityError(f"value {v!r} is not a finite number within ±{MAGNITUDE:g}")


def _xbar_r(data: ChartData) -> ChartLimits:
    n = len(data.subgroups[0])
    k = constants(n)
    xbarbar = statistics.fmean(statistics.fmean(g) for g in data.subgroups)
    rbar = statistics.fmean(max(g) - min(g) for g in data.subgroups)
    sigma = rbar / k.d2
    primary = Limits(xbarbar, xbarbar - k.A2 * rbar, xbarbar + k.A2 * rbar, sigma / math.sqrt(n))
    secondary = Limits(rbar, k.D3 * rbar, k.D4 * rbar, k.d3 * sigma)
    return ChartLimits(ChartType.xbar_r, primary, secondary, n, sigma, f"R̄/d2 (n={n}, d2={k.d2:.4f})")


def _xbar_s(data: ChartData) -> ChartLimits:
    n = len(data.subgroups[0])
    k = constants(n)
    xbarbar = statistics.fmean(statistics.fmean(g) for g in data.subgroups)
    sbar = statistics.fmean(statistics.stdev(g) for g in data.subgroups)
    sigma = sbar / k.c4
    primary = Limits(xbarbar, xbarbar - k.A3 * sbar, xbarbar + k.A3 * sbar, sigma / math.sqrt(n))
    secondary = Limits(sbar, k.B3 * sbar, k.B4 * sbar, sigma * math.sqrt(1 - k.c4**2))
    return ChartLimits(ChartType.xbar_s, primary, secondary, n, sigma, f"S̄/c4 (n={n}, c4={k.c4:.4f})")


def _imr(data: ChartData) -> ChartLimits:
    values = data.values
    xbar = statistics.fmean(values)
    mrbar = statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values))
    k = constants(2)
    sigma = mrbar / d2(2)
    primary = Limits(xbar, xbar - e2() * mrbar, xbar + e2() * mrbar, sigma)
    secondary = Limits(mrbar, 0.0, k.D4 * mrbar, k.d3 * sigma)
    return ChartLimits(ChartType.imr, primary, secondary, 1, sigma, f"MR̄/d2 (span 2, d2={d2(2):.4f})")


def _p(data: ChartData) -> ChartLimits:
    pbar = sum(data.counts) / sum(data.sizes)
    nbar = statistics.fmean(data.sizes)
    sigma = math.sqrt(pbar * (1 - pbar) / nbar)
    size = int(nbar) if len(set(data.sizes)) == 1 else None
    limits = Limits(pbar, max(0.0, pbar - 3 * sigma), min(1.0, pbar + 3 * sigma), sigma)
    return ChartLimits(ChartType.p, limits, None, size, None, "binomial √(p̄(1−p̄)/nᵢ)")


def _np(data: ChartData) -> ChartLimits:
    n = data.sizes[0]
    pbar = sum(data.counts) / sum(data.sizes)
    sigma = math.sqrt(n * pbar * (1 - pbar))
    limits = Limits(n * pbar, max(0.0, n * pbar - 3 * sigma), n * pbar + 3 * sigma, sigma)
    return ChartLimits(ChartType.np, limits, None, int(n), None, "binomial √(n p̄(1−p̄))")


def _c(data: ChartData) -> ChartLimits:
    cbar = statistics.fmean(data.counts)
    sigma = math.sqrt(cbar)
    return ChartLimits(ChartType.c, Limits(cbar, max(0.0, cbar - 3 * sigma), cbar + 3 * sigma, sigma),
                       None, None, None, "Poisson √c̄")


def _u(data: ChartData) -> ChartLimits:
    ubar = sum(data.counts) / sum(data.sizes)
    nbar = statistics.fmean(data.sizes)
    sigma = math.sqrt(ubar / nbar)
    return ChartLimits(ChartType.u, Limits(ubar, max(0.0, ubar - 3 * sigma), ubar + 3 * sigma, sigma),
                       None, None, None, "Poisson √(ū/nᵢ)")


# --------------------------------------------------------------------------- Phase II


@dataclass(frozen=True)
class PlottedChart:
    """Points of the primary chart and, for variables charts, of the R/S/MR chart."""

    limits: ChartLimits
    primary: list[Point]
    secondary: list[Point]


def plot(limits: ChartLimits, data: ChartData) -> PlottedChart:
    """The points of ``data`` judged against ``limits`` (frozen: they are not recomputed)."""
    chart = limits.chart
    _validate(chart, data)
    if chart in (ChartType.xbar_r, ChartType.xbar_s) and len(data.subgroups[0]) != limits.subgroup_size:
        raise QualityError(
            f"subgroups of {len(data.subgroups[0])} do not match the limits' subgroup size {limits.subgroup_size}"
        )
    if chart in (ChartType.xbar_r, ChartType.xbar_s):
        primary = [_fixed(i, statistics.fmean(g), limits.primary) for i, g in enumerate(data.subgroups)]
        spread = (lambda g: max(g) - min(g)) if chart is ChartType.xbar_r else statistics.stdev
        secondary = [_fixed(i, spread(g), limits.secondary) for i, g in enumerate(data.subgroups)]
    elif chart is ChartType.imr:
        primary = [_fixed(i, v, limits.primary) for i, v in enumerate(data.values)]
        secondary = [
            _fixed(i, abs(b - a), limits.secondary)
            for i, (a, b) in enumerate(zip(data.values, data.values[1:], strict=False), start=1)
        ]
    elif chart is ChartType.p:
        primary = [_binomial_point(i, c / s, s, limits.primary.center) for i, (c, s) in _pairs(data)]
        secondary = []
    elif chart is ChartType.u:
        primary = [_poisson_point(i, c / s, s, limits.primary.center) for i, (c, s) in _pairs(data)]
        secondary = []
    else:  # np, c: constant limits
        primary = [_fixed(i, c, limits.primary) for i, c in enumerate(data.counts)]
        secondary = []
    return PlottedChart(limits, primary, secondary)


def _pairs(data: ChartData):
    return enumerate(zip(data.counts, data.sizes, strict=True))


def _fixed(index: int, value: float, limits: Limits | None) -> Point:
    assert limits is not None
    return Point(index, value, limits.center, limits.lcl, limits.ucl, limits.sigma)


def _binomial_point(index: int, value: float, size: float, pbar: float) -> Point:
    sigma = math.sqrt(pbar * (1 - pbar) / size)
    return Point(index, value, pbar, max(0.0, pbar - 3 * sigma), min(1.0, pbar + 3 * sigma), sigma)


def _poisson_point(index: int, value: float, size: float, ubar: float) -> Point:
    sigma = math.sqrt(ubar / size)
    return Point(index, value, ubar, max(0.0, ubar - 3 * sigma), ubar + 3 * sigma, sigma)
