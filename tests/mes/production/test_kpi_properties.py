"""Property tests: for random state and count series the ISO time elements add up, OEE is
PRU x GQ / PBT, no KPI is negative, and deriving in slices gives what deriving at once gives."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mes.production import derive, kpi, orders
from tests.mes.production.scenario import SampleWriter, local, plant, state_series

START = local("2026-03-03", "05:30")  # spans the early shift start and its 10:00 break below
CODES = st.sampled_from([1, 1, 1, 2, 3, 4, 5, None])  # None: a gap in data
segment = st.tuples(st.integers(min_value=1, max_value=900), CODES)
DERIVED = ("downtime_assignments", "downtime_events", "state_intervals", "count_buckets", "derive_watermarks",
           "order_runs", "work_order_transitions", "work_orders", "samples")  # fmt: skip
RATIO_KPIS = ("availability", "effectiveness", "quality_ratio", "oee", "nee", "technical_efficiency",
              "setup_rate", "allocation_efficiency", "utilisation_efficiency", "scrap_ratio")  # fmt: skip


def reset(conn: psycopg.Connection) -> None:
    for table in DERIVED:
        conn.execute(f"DELETE FROM {table}")


def write(conn: psycopg.Connection, segments: list[tuple[int, int | None]], rates: list[int], wraps: bool) -> None:
    writer = SampleWriter(conn)
    spans, t = [], START
    for length, code in segments:
        spans.append((t, t + timedelta(seconds=length), code))
        t += timedelta(seconds=length)
    state_series(writer, spans, heartbeat=timedelta(seconds=30))
    good = 65_400 if wraps else 0
    reject = 0
    at = START
    for i, rate in enumerate(rates):
        if rate < 0:  # a PLC counter reset
            good = 0
        good = (good + abs(rate)) % 65536
        reject += abs(rate) // 10
        writer.add("good", at, good)
        writer.add("reject", at, reject)
        at = START + timedelta(seconds=45 * (i + 1))
    writer.flush()


def end_of(segments: list[tuple[int, int | None]]):
    return START + timedelta(seconds=sum(length for length, _ in segments))


series = dict(
    segments=st.lists(segment, min_size=1, max_size=25),
    rates=st.lists(st.integers(min_value=-50, max_value=120), min_size=2, max_size=60),
    wraps=st.booleans(),
    with_order=st.booleans(),
    loss=st.sampled_from(["performance", "availability"]),
)


@pytest.fixture
def scenario_db(db: psycopg.Connection) -> psycopg.Connection:
    derive.run_once(db, plant(), now=START - timedelta(hours=1))
    return db


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**series)
def test_time_elements_add_up_and_kpis_are_consistent(scenario_db, segments, rates, wraps, with_order, loss) -> None:
    db = scenario_db
    reset(db)
    p = plant(minor_stop_loss=loss)
    if with_order:
        order = orders.create_order(db, "P-1", "line1", "lager", 1000, by="test")
        orders.transition(db, order["id"], "running", "test", at=START + timedelta(minutes=3))
    write(db, segments, rates, wraps)
    end = end_of(segments)
    assert derive.run_once(db, p, now=end).errors == []
    # The KPIs (counts summed per segment) and the timeline (counts at their time) agree.
    in_pbt = db.execute(
        "SELECT coalesce(sum(pq), 0), coalesce(sum(gq), 0) FROM mes_timeline('line1', %s, %s) "
        "WHERE is_count AND element IS NOT NULL AND element NOT IN ('PDT', 'NODATA')", (START, end)).fetchone()
    whole = kpi.period_kpi(db, "line1", START, end)
    assert (whole["pq"], whole["gq"]) == (pytest.approx(in_pbt[0]), pytest.approx(in_pbt[1]))
    for by in ("period", "shift", "order"):
        for k in kpi.kpis(db, "line1", START, end, by=by):
            assert k["minor_stop_loss"] == loss
            assert k["pbt"] == pytest.approx(k["pot"] - k["pdt"] - k["no_data_time"], abs=1e-6)
            assert k["apt"] + k["adet"] + k["aust"] + k["adot"] == pytest.approx(k["pbt"], abs=1e-6)
            assert k["aubt"] == pytest.approx(k["pbt"] - k["adot"], abs=1e-6)
            for name in ("pot", "pdt", "pbt", "apt", "adet", "aust", "adot", "pq", "gq", "sq", "mtbf", "mttr",
                         "throughput_per_hour", *RATIO_KPIS):
                assert k[name] is None or k[name] >= -1e-9, name
            for name in ("availability", "quality_ratio", "technical_efficiency", "allocation_efficiency"):
                assert k[name] is None or k[name] <= 1 + 1e-9, name
            if k["pbt"] > 0 and k["pq"] > 0 and k["apt"] > 0:
                assert k["oee"] == pytest.approx(k["pru"] * k["gq"] / k["pbt"])
                assert k["oee"] == pytest.approx(k["availability"] * k["effectiveness"] * k["quality_ratio"])
            elif k["pbt"] > 0:
                assert k["oee"] == 0  # no production time or nothing produced: OEE 0, never a ratio of ratios


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=series["segments"], rates=series["rates"], wraps=series["wraps"],
       cuts=st.lists(st.integers(min_value=1, max_value=7200), max_size=5))
def test_deriving_in_slices_equals_deriving_at_once(scenario_db, segments, rates, wraps, cuts) -> None:
    db = scenario_db
    p = plant()
    end = end_of(segments)
    results = []
    for slices in ([], sorted(cuts)):
        reset(db)
        write(db, segments, rates, wraps)
        for offset in slices:
            derive.run_once(db, p, now=min(START + timedelta(seconds=offset), end))
        derive.run_once(db, p, now=end)
        intervals = db.execute(
            "SELECT lower(period), upper(period), state, raw_code FROM state_intervals ORDER BY lower(period)"
        ).fetchall()
        events = db.execute(
            "SELECT lower(period), upper(period), kind FROM downtime_events WHERE superseded_by IS NULL "
            "ORDER BY lower(period)"
        ).fetchall()
        k = kpi.period_kpi(db, "line1", START, end)
        results.append((intervals, events, round(k["apt"], 6), round(k["pq"], 6), round(k["gq"], 6)))
    assert results[0] == results[1]
