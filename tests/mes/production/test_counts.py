"""Counter deltas: resets are not negative, wraps are not huge, bad samples skip nothing."""

from __future__ import annotations

import itertools
from datetime import timedelta

import psycopg
import pytest

from mes.production import derive, kpi
from mes.production.counts import counter_delta
from tests.mes.production.scenario import SampleWriter, local, plant

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


def test_a_reset_from_high_up_is_not_read_as_a_wrap() -> None:
    # 40,000 -> 12 in one minute: a wrap would mean 25,548 units; the line makes at most 240.
    assert counter_delta(40_000, 12, bits=16, reset_threshold=0.5, max_units=240) == 12
    assert counter_delta(65_500, 12, bits=16, reset_threshold=0.5, max_units=240) == 48


def test_sql_tells_a_high_reset_from_a_wrap_by_the_line_rate(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))  # fastest PRU 0.4 s: 2.5/s, at most 5/s
    writer = SampleWriter(db)
    for i, value in enumerate([39_900, 40_000, 12, 100, 65_500, 60]):
        writer.add("good", T0 + timedelta(seconds=60 * i), value)
    writer.flush()
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    k = kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))
    # +100, reset (12), +88, +65,400 in one minute is impossible: ... 100 -> 65,500 is a rise of
    # 65,400 the rule cannot judge (no drop); then 65,500 -> 60 wraps: +96.
    assert k["gq"] == pytest.approx(100 + 12 + 88 + 65_400 + 96)
