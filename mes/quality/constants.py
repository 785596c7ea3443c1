"""Control chart constants computed from their definitions.

Tables of A2, D3, D4 stop at n = 25 (often at 10) and carry rounding; a
subgroup of 12 bottles or a 50-unit attribute sample must still work. So the
constants are computed from the distribution of the range and of the sample
standard deviation of a normal sample:

- d2(n) = E[W]/σ, the mean relative range, by integrating
  ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx over the real line.
- d3(n) = SD[W]/σ, from E[W²] = 2 ∬_{x<y} 1 − Φ(y)ⁿ − (1 − Φ(x))ⁿ + (Φ(y) − Φ(x))ⁿ dx dy.
- c4(n) = E[s]/σ = √(2/(n−1)) · Γ(n/2) / Γ((n−1)/2).

Everything else follows: A2 = 3/(d2√n), D3 = max(0, 1 − 3d3/d2),
D4 = 1 + 3d3/d2, A3 = 3/(c4√n), B3/B4 = 1 ∓ 3√(1 − c4²)/c4, E2 = 3/d2(2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from mes.quality.errors import QualityError

# The integrands vanish to double precision outside ±9 for any n we accept.
_LIMIT = 9.0
MAX_SUBGROUP_SIZE = 500


def _phi(x: float) -> float:
    """Standard normal cumulative distribution function."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _check_size(n: int) -> None:
    if not isinstance(n, int) or n < 2 or n > MAX_SUBGROUP_SIZE:
        raise QualityError(f"subgroup size must be an integer 2..{MAX_SUBGROUP_SIZE}, got {n!r}")


def _grid(step: float) -> tuple[list[float], list[float]]:
    count = round(2 * _LIMIT / step)
    xs = [-_LIMIT + i * step for i in range(count + 1)]
    return xs, [_phi(x) for x in xs]


@cache
def d2(n: int) -> float:
    """Mean of the relative range W/σ of n normal observations (Simpson's rule, step 0.01)."""
    _check_size(n)
    xs, cdf = _grid(0.01)
    values = [1.0 - p**n - (1.0 - p) ** n for p in cdf]
    step = xs[1] - xs[0]
    total = values[0] + values[-1]
    total += 4 * sum(values[1:-1:2]) + 2 * sum(values[2:-1:2])
    return total * step / 3.0


def _second_moment_of_range(n: int, step: float) -> float:
    """E[W²] on a grid of the given step (trapezoid rule over the triangle x < y)."""
    _xs, cdf = _grid(step)
    tail = [(1.0 - p) ** n for p in cdf]
    total = 0.0
    for j, fy in enumerate(cdf):
        head = 1.0 - fy**n
        # inner integral over x from -∞ to y (grid points 0..j), trapezoid weights
        row = [head - tail[i] + (fy - cdf[i]) ** n for i in range(j + 1)]
        inner = sum(row) - 0.5 * (row[0] + row[-1]) if j > 0 else 0.0
        weight = 0.5 if j in (0, len(cdf) - 1) else 1.0
        total += weight * inner
    return 2.0 * total * step * step


@cache
def d3(n: int) -> float:
    """Standard deviation of the relative range W/σ.

    The double integral is taken on two grids and Richardson-extrapolated,
    which removes the trapezoid rule's h² error along the diagonal.
    """
    _check_size(n)
    coarse = _second_moment_of_range(n, 0.08)
    fine = _second_moment_of_range(n, 0.04)
    second_moment = (4.0 * fine - coarse) / 3.0
    return math.sqrt(max(second_moment - d2(n) ** 2, 0.0))


@cache
def c4(n: int) -> float:
    """Mean of s/σ for n normal observations, via the gamma function (log form: no overflow at large n)."""
    _check_size(n)
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2.0) - math.lgamma((n - 1) / 2.0))


@dataclass(frozen=True)
class ChartConstants:
    """Every Shewhart constant for one subgroup size."""

    n: int
    d2: float
    d3: float
    c4: float
    A2: float
    D3: float
    D4: float
    A3: float
    B3: float
    B4: float


@cache
def constants(n: int) -> ChartConstants:
    """All constants for subgroup size ``n`` (2..500)."""
    _check_size(n)
    dd2, dd3, cc4 = d2(n), d3(n), c4(n)
    spread = 3.0 * math.sqrt(max(1.0 - cc4 * cc4, 0.0)) / cc4
    return ChartConstants(
        n=n,
        d2=dd2,
        d3=dd3,
        c4=cc4,
        A2=3.0 / (dd2 * math.sqrt(n)),
        D3=max(0.0, 1.0 - 3.0 * dd3 / dd2),
        D4=1.0 + 3.0 * dd3 / dd2,
        A3=3.0 / (cc4 * math.sqrt(n)),
        B3=max(0.0, 1.0 - spread),
        B4=1.0 + spread,
    )


def e2() -> float:
    """I–MR individuals factor 3/d2(2) (≈ 2.660): moving ranges are ranges of two."""
    return 3.0 / d2(2)
