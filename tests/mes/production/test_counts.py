"""Counter deltas: resets are not negative, wraps are not huge, bad samples skip nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mes.production import derive, kpi
from mes.production.counts import CounterRule, Reading, count_step, counter_delta
from tests.mes.production.scenario import SampleWriter, local, plant

T0 = local("2026-03-04", "06:00")


def test_counter_rollover_adds_the_wrapped_difference() -> None:
    assert counter_delta(65_530, 4, bits=16) == 10
    assert counter_delta(2**32 - 1, 0, bits=32) == 1


def test_counter_reset_counts_from_zero_not_negative() -> None:
    assert counter_delta(1_200, 3, bits=16) == 3
    assert counter_delta(None, 500, bits=16) == 0  # the first sample is the baseline


def test_signed_16_bit_values_are_read_as_unsigned() -> None:
    assert counter_delta(32_767, -32_768, bits=16) == 1


def _counter(db: psycopg.Connection, values: list[float | None], step: float, tag: str = "good") -> None:
    writer = SampleWriter(db)
    for i, value in enumerate(values):
        at = T0 + timedelta(seconds=step * i)
        if value is None:
            writer.bad(tag, at)
        else:
            writer.add(tag, at, value)
    writer.flush()


def _events(db: psycopg.Connection) -> list[tuple]:
    return db.execute("SELECT stream, at, kind, previous_value, value, quantity FROM data_quality_events "
                      "ORDER BY at").fetchall()  # fmt: skip


def test_sql_counts_through_wraps_resets_jumps_and_bad_samples(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))  # fastest PRU 0.4 s: at most 5/s
    # 30 s apart: at most 5 x (30 + 10) + 10 = 210 units a step.
    _counter(db, [65_400, 65_475, 65_535, 60, 130, None, None, 300, 40, 110, 65_500, 20], 30)
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    k = kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))
    # +75 +60, wrap +61, +70, +170 across the bad samples, reset +40, +70, jump 0, wrap +56.
    assert k["gq_total"] == pytest.approx(75 + 60 + 61 + 70 + 170 + 40 + 70 + 0 + 56)
    events = _events(db)
    assert [(e[1], e[2], e[5]) for e in events] == [
        (T0 + timedelta(seconds=240), "counter_reset", 40),
        (T0 + timedelta(seconds=300), "counter_jump", 65_390),
    ]


def test_a_glitch_read_of_zero_in_a_running_counter_is_not_production(db: psycopg.Connection) -> None:
    """40,000 -> 0 -> 40,100 made 100 units, not 40,300 (issue 13); derived in two runs."""
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    _counter(db, [39_950, 40_000, 0], 60)
    derive.run_once(db, plant(), now=T0 + timedelta(minutes=2))
    _counter(db, [None, None, None, 40_100, 40_150], 60)
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    k = kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))
    assert k["gq_total"] == pytest.approx(50 + 100 + 50)
    assert [(e[1], e[2], e[3], e[4], e[5]) for e in _events(db)] == [
        (T0 + timedelta(minutes=2), "counter_glitch", 40_000, 0, 40_000)]


def test_a_reset_from_high_up_is_not_read_as_a_wrap() -> None:
    # 40,000 -> 12: a wrap would mean 25,548 units; 40,000 is not near the top of the range.
    assert counter_delta(40_000, 12, bits=16) == 12
    assert counter_delta(40_000, 12, bits=16, max_rate=5) == 12
    assert counter_delta(65_500, 12, bits=16, max_rate=5) == 48


def test_a_rise_faster_than_the_line_can_make_is_not_counted(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))  # at most 5 x (60 + 10) + 10 = 360 a minute
    _counter(db, [39_900, 40_000, 12, 100, 65_500, 65_600], 60)
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    k = kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))
    # +100, reset +12, +88, +65,400 in one minute is a jump (0), then +100 from the new reading.
    assert k["gq_total"] == pytest.approx(100 + 12 + 88 + 0 + 100)
    assert [e[2] for e in _events(db)] == ["counter_reset", "counter_jump"]


def test_max_rate_from_the_config_bounds_the_counter(db: psycopg.Connection) -> None:
    line = plant(max_rate=120)  # 2 units/s: at most 2 x 70 + 10 = 150 a minute
    derive.run_once(db, line, now=T0 - timedelta(hours=1))
    _counter(db, [0, 100, 300, 400], 60)
    derive.run_once(db, line, now=T0 + timedelta(hours=1))
    assert kpi.period_kpi(db, "line1", T0, T0 + timedelta(hours=1))["gq_total"] == pytest.approx(100 + 0 + 100)


def _fold(rule: CounterRule, values: list[float | None], step: float) -> float:
    """The rule applied reading by reading in Python: the reference the SQL pass must match."""
    r0 = r1 = None
    total = 0.0
    for i, value in enumerate(values):
        if value is None:
            continue
        r2 = Reading(T0 + timedelta(seconds=step * i), rule.normalise(value))
        total += count_step(rule, r0, r1, r2).quantity
        r0, r1 = r1, r2
    return total


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.one_of(st.integers(min_value=0, max_value=300), st.sampled_from(["reset", "glitch", "bad",
                                                                                         "jump", "top"])),
                      min_size=2, max_size=40))  # fmt: skip
def test_the_sql_pass_counts_what_the_rule_counts_reading_by_reading(db: psycopg.Connection, moves: list) -> None:
    for table in ("data_quality_events", "count_buckets", "derive_watermarks", "samples"):
        db.execute(f"DELETE FROM {table}")
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    values: list[float | None] = []
    level = 1_000.0
    for move in moves:
        if isinstance(move, int):
            level += move
        elif move == "reset":
            level = 3
        elif move == "jump":
            level += 20_000
        elif move == "top":
            level = 65_500
        values.append({"glitch": 0.0, "bad": None}.get(move, level % 65_536) if isinstance(move, str) else
                      level % 65_536)  # fmt: skip
    _counter(db, values, 30)
    _counter(db, values, 30, tag="energy")
    derive.run_once(db, plant(), now=T0 + timedelta(hours=1))
    good, energy = db.execute("SELECT coalesce(sum(good), 0), coalesce(sum(energy), 0) FROM count_buckets").fetchone()
    assert good == pytest.approx(_fold(CounterRule(16, 0.1, 5.0), values, 30))
    assert energy == pytest.approx(_fold(CounterRule(64, 0.0, None), values, 30))
