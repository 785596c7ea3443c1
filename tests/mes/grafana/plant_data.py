"""A few hours of plant data written through LineBrain's own store, for panel tests.

Until ``linebrain demo`` fills a database, this is the demo: the example
brewery synced into the MES, three work orders, 1 s samples with a believable
line behind them (runs, short stops, a fault, counters counting, a few bad
readings) committed by the ``SampleStore``, rolled up by ``refresh_rollups``
and derived into states, counts and stops by ``mes.production.derive.run_once``, exactly
as live data is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from collectors.config import Plant, load_plant
from collectors.samples import BAD_TIMEOUT, GOOD, UNCERTAIN, Sample
from collectors.store import SampleStore, refresh_rollups
from mes.production.derive import run_once
from mes.production.orders import create_order, transition
from mes.production.sync import sync_plant
from mes.quality.inspections import RecordIn, record_inspection
from mes.quality.nonconformances import DispositionIn, NonconformanceIn, create_nonconformance, disposition
from mes.quality.process_checks import run_process_checks
from mes.quality.spc import ChartIn, compute_phase_one, create_chart, evaluate, freeze
from mes.quality.specs import SpecIn, create_spec
from tests.conftest import REPO

PLANT = REPO / "tests" / "mes" / "grafana" / "plant.yaml"
STEP = timedelta(seconds=1)


def state_at(second: int) -> int:
    """The filler's PLC state code: mostly running, an 8 s micro-stop every 7 min, a 90 s idle each
    hour, a 5 min fault every 3 h."""
    minute = (second // 60) % 180
    if second % 420 < 8:
        return 2  # micro-stop
    if 100 <= minute < 105:
        return 3  # fault
    if (minute % 60 == 30 and (second % 60) < 40) or minute % 60 == 31:
        return 2  # idle
    return 1


def samples_between(start: datetime, end: datetime) -> list[Sample]:
    samples: list[Sample] = []
    good = reject = 0
    seconds = int((end - start).total_seconds())
    for second in range(seconds):
        at = start + second * STEP
        state = state_at(second)
        if state == 1:
            good += 10 if second % 50 else 9
            reject += 0 if second % 50 else 1
        speed = 600.0 * (state == 1) - (second % 7)
        temp = 180 + 5 * math.sin(second / 600)
        status = BAD_TIMEOUT if second % 997 == 0 else (UNCERTAIN if second % 1499 == 0 else GOOD)
        samples += [
            Sample("filler_state", at, float(state)),
            Sample("filler_good", at, float(good % 65536)),
            Sample("filler_reject", at, float(reject % 65536)),
            Sample("filler_speed", at, max(speed, 0.0) if status == GOOD else None, status),
            Sample("oven_temp", at, temp),
        ]
    return samples


def fill(url: str, start: datetime, end: datetime, spool_dir: Path) -> None:
    """Orders, samples from ``start`` to ``end``, rollups and MES derivation, as a running plant has them."""
    plant = fill_production(url, start, end, spool_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        record_quality(conn, start, end)
        record_alarms(conn, plant, start, end)


def fill_production(url: str, start: datetime, end: datetime, spool_dir: Path) -> Plant:
    """Orders, samples, rollups and the derived states and counts (no quality, no alarms); the plant."""
    plant = load_plant(PLANT)
    with psycopg.connect(url, autocommit=True) as conn:
        sync_plant(conn, plant)
        plan_orders(conn, start)
    store_samples(url, plant, start, end, spool_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        report = run_once(conn, plant)
        assert not report.errors, report.errors
    return plant


def record_alarms(conn: psycopg.Connection, plant: Plant, start: datetime, end: datetime) -> None:
    """The plant's alarm rules judged on the same readings, by the engine ``linebrain run`` uses."""
    from mes.alarms import store
    from mes.alarms.engine import AlarmEngine

    engine = AlarmEngine(plant)
    ids = store.sync_points(conn, engine.conditions)
    with conn.transaction():
        for change in engine.evaluate(samples_between(start, end)):
            store.record_change(conn, ids[change.condition.key], change)


def order_at(conn: psycopg.Connection, at: datetime) -> int | None:
    """The order line1 ran at ``at``, if any."""
    row = conn.execute("SELECT order_id FROM order_runs WHERE line_id = 'line1' AND period @> %s", (at,)).fetchone()
    return row[0] if row else None


def record_quality(conn: psycopg.Connection, start: datetime, end: datetime, *, product: str = "lager05",
                   process_tag: str | None = "oven_temp") -> None:
    """Specs, inspections every 10 min, SPC charts frozen after the first half, process checks
    on ``process_tag`` (the test plant's oven overshoots), and a nonconformance with a scrap
    disposition. Without a process tag the I-MR chart plots the inspections instead."""
    fill = create_spec(conn, SpecIn(product_id=product, line_id="line1", characteristic="fill volume",
                                    unit="ml", target=500, lsl=495, usl=505))
    labels = create_spec(conn, SpecIn(product_id=product, line_id="line1", characteristic="label defects",
                                      kind="attribute"))
    if process_tag:
        create_spec(conn, SpecIn(product_id=product, line_id="line1", characteristic="oven temperature",
                                 unit="degC", tag=process_tag, process_low=176, process_high=184.5, min_duration_s=30))
    minutes = int((end - start).total_seconds() // 600)
    for i in range(1, minutes):
        at = start + timedelta(minutes=10 * i)
        order = order_at(conn, at)
        volumes = [500 + 2.5 * math.sin(i * 7 + k) + (20 if i == minutes - 2 and k == 0 else 0) for k in range(5)]
        record_inspection(conn, RecordIn(spec_id=fill["id"], line_id="line1", work_order_id=order, time=at,
                                         measurements=volumes, inspector="qa"))
        bad = (i * 3) % 4
        defects = {"skewed label": bad} if bad else {}
        record_inspection(conn, RecordIn(spec_id=labels["id"], line_id="line1", work_order_id=order, time=at,
                                         sample_size=50, nonconforming=bad, defects=defects, passed=bad == 0,
                                         inspector="qa"))
    half = start + (end - start) / 2
    charts = [
        ChartIn(name="Fill volume X̄-R", chart_type="xbar_r", spec_id=fill["id"], subgroup_size=5),
        ChartIn(name="Label defects p", chart_type="p", spec_id=labels["id"]),
        ChartIn(name="Oven temperature I-MR", chart_type="imr", source="tag", tag=process_tag, subgroup_seconds=60)
        if process_tag else ChartIn(name="Fill volume I-MR", chart_type="imr", spec_id=fill["id"]),
    ]
    for chart_in in charts:
        chart = create_chart(conn, chart_in)
        compute_phase_one(conn, chart["id"], start, half)
        freeze(conn, chart["id"], by="qa lead")
        evaluate(conn, chart["id"], until=end)
    run_process_checks(conn, end)
    nc = create_nonconformance(conn, NonconformanceIn(
        description="Crate of bottles with broken necks", quantity=24, line_id="line1", product_id=product,
        work_order_id=order_at(conn, end - timedelta(minutes=30)), defect_code="broken neck", found_at="packer",
        time=end - timedelta(minutes=30), reported_by="operator"))
    disposition(conn, nc["id"], DispositionIn(disposition="scrap", quantity=24, approved_by="qa lead"))


def plan_orders(conn: psycopg.Connection, start: datetime) -> None:
    """One order completed in the first 40 minutes, one running since, one waiting."""
    done = create_order(conn, "WO-1000", "line1", "lager05", 20000, by="planner", due_at=start + timedelta(hours=1))
    transition(conn, done["id"], "running", by="operator", at=start)
    transition(conn, done["id"], "completed", by="operator", at=start + timedelta(minutes=40))
    running = create_order(conn, "WO-1001", "line1", "lager05", 90000, by="planner", due_at=start + timedelta(hours=4))
    transition(conn, running["id"], "released", by="planner", at=start)
    transition(conn, running["id"], "running", by="operator", at=start + timedelta(minutes=45))
    create_order(conn, "WO-1002", "line1", "lager05", 50000, by="planner")


def store_samples(url: str, plant: Plant, start: datetime, end: datetime, spool_dir: Path) -> None:
    """Write the samples through the SampleStore and bring the rollups up to date."""
    store = SampleStore.for_plant(plant, url, spool_dir=spool_dir, source="grafana-test")
    store.start()
    try:
        samples = samples_between(start, end)
        for first in range(0, len(samples), 5000):
            store.write(samples[first : first + 5000])
        assert store.flush(timeout=60), "the store did not commit the test samples"
    finally:
        store.close()
    refresh_rollups(url)


def window(hours: int = 3) -> tuple[datetime, datetime]:
    """A time range of whole minutes ending a little before now."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return end - timedelta(hours=hours), end
