"""Control chart constants are computed from their definitions, match the published
table (../shared/DOMAIN.md, n = 2..10) and keep working beyond it."""

from __future__ import annotations

import math

import pytest

from mes.quality.constants import c4, constants, d2, d3, e2
from mes.quality.errors import QualityError

# n: (A2, D3, D4, d2) as printed in DOMAIN.md (three decimals).
DOMAIN_TABLE = {
    2: (1.880, 0, 3.267, 1.128),
    3: (1.023, 0, 2.574, 1.693),
    4: (0.729, 0, 2.282, 2.059),
    5: (0.577, 0, 2.114, 2.326),
    6: (0.483, 0, 2.004, 2.534),
    7: (0.419, 0.076, 1.924, 2.704),
    8: (0.373, 0.136, 1.864, 2.847),
    9: (0.337, 0.184, 1.816, 2.970),
    10: (0.308, 0.223, 1.777, 3.078),
}


@pytest.mark.parametrize("n", sorted(DOMAIN_TABLE))
def test_constants_match_the_published_table(n: int) -> None:
    a2, d3_factor, d4, d2_value = DOMAIN_TABLE[n]
    k = constants(n)
    # The table rounds to three decimals (and some printings round n = 3 D4 down).
    assert abs(k.A2 - a2) < 0.0006
    assert abs(k.D3 - d3_factor) < 0.0006
    assert abs(k.D4 - d4) < 0.0008
    assert k.d2 == pytest.approx(d2_value, abs=0.0006)


def test_n2_constants_equal_their_closed_forms() -> None:
    # For two observations W = |X1 − X2| ~ |N(0, 2)|: E[W] = 2/√π, Var[W] = 2 − 4/π.
    assert d2(2) == pytest.approx(2 / math.sqrt(math.pi), abs=1e-9)
    assert d3(2) == pytest.approx(math.sqrt(2 - 4 / math.pi), abs=1e-6)
    assert c4(2) == pytest.approx(math.sqrt(2 / math.pi), abs=1e-12)
    # DOMAIN.md's 2.660 is 3/1.128 (d2 rounded first); exactly it is 3/(2/√π) = 2.6587.
    assert e2() == pytest.approx(3 * math.sqrt(math.pi) / 2, abs=1e-9)
    assert e2() == pytest.approx(2.660, abs=0.0015)


def test_constants_work_beyond_the_table() -> None:
    # ASTM E2587 / Montgomery Appendix VI at n = 25: A2 = 0.153, D3 = 0.459, D4 = 1.541,
    # d2 = 3.931, c4 = 0.9896, B4 = 1.435.
    k = constants(25)
    assert abs(k.A2 - 0.153) < 0.0006
    assert abs(k.D3 - 0.459) < 0.0008
    assert abs(k.D4 - 1.541) < 0.0008
    assert k.d2 == pytest.approx(3.931, abs=0.0006)
    assert k.c4 == pytest.approx(0.9896, abs=0.00006)
    assert abs(k.B4 - 1.435) < 0.0008
    # and keep growing sensibly: d2 rises, c4 tends to 1, D3 > 0
    assert d2(11) < d2(12) < d2(50) < d2(200)
    assert 0.998 < c4(200) < 1
    assert 0 < constants(100).D3 < 1 < constants(100).D4


@pytest.mark.parametrize("bad", [0, 1, -3, 10_000])
def test_impossible_subgroup_sizes_are_refused(bad: int) -> None:
    with pytest.raises(QualityError, match="subgroup size"):
        constants(bad)
