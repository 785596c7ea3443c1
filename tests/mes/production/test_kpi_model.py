"""Property test: derivation + mes_kpi() against an independent Python model (iso22400_model.py).

Generated nights of a line with a night shift (a break at 03:30), on an ordinary day and
on the autumn DST fall-back day (the night is 9 h): state series with stops, micro-stops,
changeovers, jams and data gaps, first data late in the window, an order, and a PLC
counter with a 16-bit wrap, resets, glitch reads, jumps and bad reads, then count
corrections (rework, voids; the ones that would make the shift negative must be refused).
The model works from ground truth (what the line made, when), not from the SQL."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mes.errors import InvalidInput
from mes.production import derive, kpi, orders
from mes.production.counts import adjust_count, count_totals
from tests.mes.production import iso22400_model as model
from tests.mes.production.scenario import PLANT_YAML, SampleWriter, local

RANGE = 65536
LINE = model.Line(
    timezone="Europe/Berlin",
    shifts=[("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")],
    breaks={"early": [("10:00", 30)], "night": [("03:30", 20)]},
    stale_seconds=2 * 60 + 1,  # heartbeat 60 s, poll interval 1 s
    micro_stop_seconds=30,
    minor_stop_loss="performance",
    default_pru=0.4,  # pils, the fastest product
)
PRU = {"lager": 0.5, "pils": 0.4}
DERIVED = ("downtime_assignments", "downtime_events", "state_intervals", "count_buckets", "count_adjustments",
           "data_quality_events", "derive_watermarks", "order_runs", "work_order_transitions", "work_orders",
           "samples")  # fmt: skip


def night_plant():
    doc = yaml.safe_load(PLANT_YAML)
    doc["shift_patterns"][0]["shifts"].append(
        {"name": "night", "start": "22:00", "end": "06:00", "breaks": [{"start": "03:30", "minutes": 20}]})
    from collectors.config import parse_plant

    return parse_plant(yaml.safe_dump(doc))


PLANT = night_plant()
# A stop: (code, seconds); running stretches between stops are (RUNNING, seconds); None: a data gap.
stop = st.one_of(
    st.tuples(st.sampled_from([model.FAULT, model.IDLE, model.JAM, model.CHANGEOVER]), st.integers(60, 900)),
    st.tuples(st.just(model.FAULT), st.integers(5, 25)),  # a micro-stop
    st.tuples(st.none(), st.integers(180, 900)),  # no data
)
scenario = dict(
    day=st.sampled_from(["2026-03-04", "2026-10-25"]),  # 2026-10-25: clocks go back 03:00 -> 02:00
    first_minutes=st.integers(0, 40),
    stops=st.lists(st.tuples(st.integers(120, 2400), stop), min_size=1, max_size=8),
    order=st.one_of(st.none(), st.tuples(st.integers(0, 120), st.integers(30, 300),
                                         st.sampled_from(["lager", "pils"]))),
    counter_start=st.integers(1000, 64000),
    rates=st.lists(st.integers(0, 100), min_size=30, max_size=400),
    incidents=st.lists(st.tuples(st.integers(1, 400), st.sampled_from(["glitch", "reset", "jump", "bad"])),
                       max_size=6),
    corrections=st.lists(st.tuples(st.integers(1, 400), st.sampled_from(["rework", "good"]), st.integers(1, 3000)),
                         max_size=3),
)  # fmt: skip


def _clear(conn: psycopg.Connection) -> None:
    for table in DERIVED:
        conn.execute(f"DELETE FROM {table}")


def _states(writer: SampleWriter, start, first_minutes, stops) -> tuple[list, object]:
    """Running stretches and stops from ``start + first_minutes``; a sample at each change and every 60 s."""
    t = start + timedelta(minutes=first_minutes)
    samples = []
    for running, (code, seconds) in [*stops, (600, (model.RUNNING, 600))]:
        for code_here, length in ((model.RUNNING, running), (code, seconds)):
            end = t + timedelta(seconds=length)
            s = t
            while code_here is not None and s < end:
                samples.append((s, code_here))
                s += timedelta(seconds=60)
            t = end
    for s, code in samples:
        writer.add("state", s, code)
    return samples, t


def _counter(writer: SampleWriter, start, minutes: int, counter_start: int, rates, incidents):
    """The good counter, read every minute; returns the units derivation must count and where,
    and the readings it must doubt (jumps, glitches)."""
    kinds: dict[int, str] = {}
    for minute, kind in sorted(incidents):
        if minute < minutes - 2 and all(abs(minute - m) > 3 for m in kinds):
            kinds[minute] = kind
    value, deltas, doubtful, carried = counter_start, [], [], 0.0
    for i in range(minutes + 1):
        at = start + timedelta(minutes=i)
        made = rates[i % len(rates)] if i else 0
        kind = kinds.get(i)
        if kind == "reset" and not 1000 <= value < 0.85 * RANGE:
            kind = None
        if kind == "glitch" and not 5000 <= value < 0.85 * RANGE - 400:
            kind = None
        if kind == "jump" and value + 20_000 + made >= RANGE:
            kind = None  # keep the jump a plain rise: a jump through the wrap could read as a small reset
        if kind == "reset":
            value = made  # the PLC restarted its counter at the start of this minute
        elif kind == "jump":
            value = (value + made + 20_000) % RANGE  # not production: lost to the count, counter goes on
            made = 0
            doubtful.append(at)
        else:
            value = (value + made) % RANGE
        carried += made
        if kind == "bad":
            writer.bad("good", at)
            continue
        if kind == "glitch":
            writer.add("good", at, 0)  # one bad read of 0; the next reading carries this minute's units
            doubtful.append(at)
            continue
        writer.add("good", at, value)
        if carried:
            deltas.append((at, carried))
        carried = 0.0
    return deltas, doubtful


@pytest.fixture
def model_db(db: psycopg.Connection) -> psycopg.Connection:
    return db


# Deterministic (derandomized) examples; no shrinking: a failure prints its example as drawn, at once.
@settings(max_examples=12, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(**scenario)
def test_derived_kpis_equal_the_independent_model(model_db, day, first_minutes, stops, order, counter_start, rates,
                                                  incidents, corrections) -> None:  # fmt: skip
    db = model_db
    _clear(db)
    start, end = local(day, "01:00"), local(day, "06:30")  # the night shift's last 5 h (6 h on fall-back) + 30 min
    derive.run_once(db, PLANT, now=start - timedelta(hours=1))
    truth_order = None
    if order:
        lo, hi = start + timedelta(minutes=order[0]), start + timedelta(minutes=order[0] + order[1])
        o = orders.create_order(db, "N-1", "line1", order[2], 10_000, by="test")
        orders.transition(db, o["id"], "running", "test", at=lo)
        orders.transition(db, o["id"], "completed", "test", at=hi)
        truth_order = (lo, hi, PRU[order[2]])
    writer = SampleWriter(db)
    samples, data_end = _states(writer, start, first_minutes, stops)
    minutes = int((max(data_end, end) - start).total_seconds() // 60)
    deltas, doubtful = _counter(writer, start, minutes, counter_start, rates, incidents)
    writer.flush()
    assert derive.run_once(db, PLANT, now=max(data_end, end)).errors == []
    truth = model.Truth(samples, truth_order, deltas, doubtful)
    _correct(db, truth, start, corrections)

    expected = model.kpis(LINE, truth, start, end)
    got = kpi.period_kpi(db, "line1", start, end)
    for name, element in (("pdt", "PDT"), ("apt", "APT"), ("aust", "AUST"), ("adet", "ADET"), ("adot", "ADOT"),
                          ("no_data_time", "NODATA")):  # fmt: skip
        assert got[name] == pytest.approx(expected.seconds[element], abs=1e-6), name
    assert (got["pot"], got["pbt"]) == (pytest.approx(expected.pot), pytest.approx(expected.pbt))
    for name in ("pq", "gq", "rq", "pq_no_data"):
        assert got[name] == pytest.approx(getattr(expected, name), abs=1e-6), name
    assert got["sq"] == pytest.approx(expected.pq - expected.gq - expected.rq, abs=1e-6)
    assert got["ideal_time"] == pytest.approx(expected.ideal, abs=1e-6)
    want_oee = expected.oee()
    assert got["oee"] == (None if want_oee is None else pytest.approx(want_oee, abs=1e-9))
    assert got["implausible_reasons"] == expected.reasons()
    # Per shift, the rows add up to the window (a night across DST is one 9 h shift).
    shifts = kpi.kpis(db, "line1", start, end, by="shift")
    for name in ("pot", "pbt", "apt", "no_data_time", "pq", "gq"):
        assert sum(r[name] for r in shifts) == pytest.approx(got[name], abs=1e-6), name


def _correct(db: psycopg.Connection, truth: model.Truth, start, corrections) -> None:
    """Rework and voids: taken, or refused exactly when the model says the shift would go negative."""
    for minute, kind, quantity in corrections:
        at = start + timedelta(minutes=minute, seconds=30)
        signed = -quantity if kind == "good" else quantity
        window = model.shift_window(LINE, at)
        assert window is not None
        good = sum(q for t, q in truth.deltas if window[0] < t <= window[1])
        good += sum(q for t, k, q in truth.adjustments if k == "good" and window[0] < t <= window[1])
        rework = sum(q for t, k, q in truth.adjustments if k == "rework" and window[0] < t <= window[1])
        good_after = good + (signed if kind == "good" else 0)
        rework_after = rework + (signed if kind == "rework" else 0)
        refused = good_after < 0 or good_after - rework_after < 0
        assert count_totals(db, "line1", *window)["good"] == pytest.approx(good)  # the model counts what was derived
        if refused:
            with pytest.raises(InvalidInput) as error:
                adjust_count(db, "line1", kind, at, signed, why="property test", by="test")
            assert error.value.field == "quantity"
        else:
            adjust_count(db, "line1", kind, at, signed, why="property test", by="test")
            truth.adjustments.append((at, kind, signed))
