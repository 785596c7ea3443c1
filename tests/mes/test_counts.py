"""Counter deltas: resets are not negative, wraps are not huge, bad samples skip nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta

import psycopg
import pytest

from mes import derive, kpi
from mes.counts import counter_delta
from tests.mes.scenario import SampleWriter, local, plant

T0 = local("2026-03-04", "06:00")


def test_counter_rollover_adds_the_wrapped_difference() -> None:
    assert counter_delta(65_530, 4, bits=16, reset_threshold=0.5) == 10
    assert counter_delta(2**32 - 1, 0, bits=32, reset_threshold=0.5) == 1


def test_counter_reset_counts_from_zero_not_negative() -> None:
    assert counter_delta(1_200, 3, bits=16, reset_threshold=0.5) == 3
    assert counter_delta(None, 500, bits=16, reset_threshold=0.5) == 0  # the first sample is the baseline


def test_signed_16_bit_values_are_read_as_unsigned() -> None:
    assert counter_delta(32_767, -32_768, bits=16, reset_threshold=0.5) == 1


def test_sql_counts_match_the_rule_through_wraps_resets_and_bad_samples(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    values = [65_000, 65_300, 65_535, 200, 900, None, None, 1_500, 40, 300, 65_535, 5]
    writer = SampleWriter(db)
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=30 * i)
        if value is None:
            writer.bad("good", at)
        else:
            writer.add("good", at, value)
    writer.flush()
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    good = [v for v in values if v is not None]
    expected = sum(counter_delta(a, b, 16, 0.5) for a, b in itertools.pairwise(good))
    k = kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))
    assert k["gq"] == pytest.approx(expected)
    assert k["gq"] == pytest.approx(300 + 235 + 201 + 700 + 600 + 40 + 260 + 65_235 + 6)
