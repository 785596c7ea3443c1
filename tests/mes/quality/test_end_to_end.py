"""End to end with the line simulator: an oven temperature limit, an excursion injected by
writing a setpoint, the nonconformance it opens on the right order and lot, and a scrap
disposition lowering that order's quality ratio in the production core's KPIs.

The simulator runs in-process on a frozen clock (speed 0, no servers): each simulated
minute its points are written to ``samples`` as a collector would store them (the
protocol legs are covered by the collector tests). The production core derives states
and counts from those samples; the quality checks run on top.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.config.models import Plant
from collectors.service import CollectorService, ServiceOptions
from mes.production.derive import run_once
from mes.production.orders import create_order, transition
from mes.quality.genealogy import LotIn, create_lot
from mes.quality.nonconformances import DispositionIn, disposition, get_nonconformance
from mes.quality.process_checks import list_excursions, run_process_checks
from mes.quality.specs import SpecIn, create_spec
from mes.quality.summary import order_quality
from simulator import Simulator, SimulatorOptions

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
OVEN = "Impregnation.CuringLine.CuringOven"
AUTOCLAVE = "Impregnation.CuringLine.Autoclave"
TAGS = {  # our tag name -> simulator point
    "autoclave_state": f"{AUTOCLAVE}.State",
    "batch_counter": f"{AUTOCLAVE}.BatchNumber",
    "oven_zone1": f"{OVEN}.Zone1Temperature",
}


def curing_plant(port: int = 5020, poll_interval: float = 1.0) -> Plant:
    """The curing line as a plant config: autoclave state and batch counter, oven zone 1."""
    return Plant.model_validate({
        "site": {"name": "Curing works", "timezone": "UTC"},
        "areas": [{"id": "impregnation", "lines": [{
            "id": "curing", "shift_pattern": "round-the-clock",
            "bindings": {
                "state": {"tag": "autoclave_state", "codes": {"running": [1], "changeover": [5], "idle": [7]}},
                "good_count": {"tag": "batch_counter", "bits": 32},
            },
        }]}],
        "connections": [{"id": "sim", "protocol": "modbus", "host": "127.0.0.1", "port": port,
                         "poll_groups": [{"name": "default", "interval": poll_interval}]}],
        "tags": [
            {"name": "autoclave_state", "connection": "sim", "unit_id": 10, "table": "holding_register", "address": 0,
             "data_type": "uint16"},
            {"name": "batch_counter", "connection": "sim", "unit_id": 10, "table": "holding_register", "address": 2,
             "data_type": "uint32", "heartbeat": 0},
            {"name": "oven_zone1", "connection": "sim", "unit_id": 11, "table": "input_register", "address": 0,
             "data_type": "int16", "scale": 0.1, "unit": "degC"},
        ],
        "products": [{"id": "tube", "name": "Graphite tube batch", "unit": "batch",
                      "ideal_cycle_time": {"curing": 7200}}],
        "shift_patterns": [{"id": "round-the-clock", "shifts": [
            {"name": "early", "start": "00:00", "end": "08:00"},
            {"name": "day", "start": "08:00", "end": "16:00"},
            {"name": "night", "start": "16:00", "end": "00:00"},
        ]}],
    })  # fmt: skip


PLANT = curing_plant()


async def run_line(db: psycopg.Connection, minutes: int, excursion: tuple[int, int]) -> list[tuple[datetime, int]]:
    """Simulate ``minutes`` minutes, storing every point each minute; the oven's zone 1 setpoint
    is raised to 195 °C from minute excursion[0] to excursion[1]. Returns (time, batch number)."""
    tag_ids = {name: db.execute("SELECT id FROM tags WHERE name = %s", (name,)).fetchone()[0] for name in TAGS}
    db.execute("SELECT ensure_sample_partitions(%s, %s)", (START, START.replace(hour=23)))
    batches: list[tuple[datetime, int]] = []
    sim = Simulator(SimulatorOptions(scenario="process", seed=3, speed=0, start=START, modbus_port=None,
                                     opcua_port=None))
    setpoint = sim.point(f"{OVEN}.Zone1Setpoint")
    rows = []
    for minute in range(minutes + 1):
        if minute:
            await sim.advance(60)
        if minute == excursion[0]:
            setpoint.set(195.0, sim.now)  # what an operator's write does
        if minute == excursion[1]:
            setpoint.set(180.0, sim.now)
        for name, point in TAGS.items():
            rows.append((sim.now, tag_ids[name], float(sim.point(point).value)))
        batch = int(sim.point(TAGS["batch_counter"]).value)
        if not batches or batches[-1][1] != batch:
            batches.append((sim.now, batch))
    with db.cursor() as cur:
        cur.executemany("INSERT INTO samples (time, tag_id, value) VALUES (%s, %s, %s)", rows)
    return batches


@pytest.mark.timeout(120)
async def test_an_injected_oven_excursion_ends_as_scrap_in_the_orders_quality_ratio(db: psycopg.Connection) -> None:
    run_once(db, PLANT, START)  # config → equipment, products, tags, shift calendar
    order = create_order(db, "WO-CURE-1", "curing", "tube", 4, by="planner")
    transition(db, order["id"], "running", by="operator", at=START)
    create_spec(db, SpecIn(product_id="tube", characteristic="curing oven zone 1", unit="degC",
                           tag="oven_zone1", process_high=185, min_duration_s=120))
    minutes = 8 * 60
    batches = await run_line(db, minutes, excursion=(210, 230))
    end = START + timedelta(minutes=minutes)
    transition(db, order["id"], "completed", by="operator", at=end)
    # one lot per autoclave batch, over the time it was in the autoclave
    for i, (began, number) in enumerate(batches):
        ended = batches[i + 1][0] if i + 1 < len(batches) else end
        create_lot(db, LotIn(code=f"B{number:06d}", work_order_id=order["id"], quantity=1, started_at=began,
                             ended_at=ended))
    run_once(db, PLANT, end)  # states and counts derived from the samples

    before = order_quality(db, order["id"])
    completed = len(batches) - 1  # the counter steps once per batch loaded after the first
    assert completed >= 2
    assert before["pq"] == completed and before["gq"] == completed and before["quality_ratio"] == 1.0

    touched = run_process_checks(db, end)
    assert len(touched) == 1
    excursion = list_excursions(db, work_order_id=order["id"])[0]
    setpoint_up = START + timedelta(minutes=210)
    assert setpoint_up < excursion["start_time"] < setpoint_up + timedelta(minutes=15)  # the oven lags
    assert excursion["end_time"] > START + timedelta(minutes=230)
    assert 185 < excursion["worst_value"] < 195
    in_process = f"B{max(n for t, n in batches if t <= excursion['start_time']):06d}"  # the batch loaded last
    assert excursion["lot_code"] == in_process

    nc = get_nonconformance(db, touched[0]["nonconformance_id"])
    assert (nc["work_order_id"], nc["lot_code"], nc["source"]) == (order["id"], in_process, "excursion")
    assert nc["quantity"] == 1

    disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=1, approved_by="qa-lead"))
    after = order_quality(db, order["id"])
    assert after["pq"] == completed
    assert after["quality_ratio"] == pytest.approx((completed - 1) / completed)
    assert after["scrap_ratio"] == pytest.approx(1 / completed)
    kinds = {e[0] for e in db.execute("SELECT kind FROM quality_events")}
    assert kinds == {"excursion", "nonconformance"}


SPEED = 1800.0  # half an hour of plant time per second


async def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.mark.timeout(120)
async def test_live_over_modbus_with_the_collector_and_the_background_jobs(
    db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    """The whole path at 1800× speed: simulator → Modbus TCP → collector and store → the quality
    background job → a nonconformance on the batch lot → scrap → the production core's KPIs.

    Modbus has no source timestamps, so every time here is wall-clock time, and the whole order
    lasts about ten seconds. The production core cuts count buckets at whole minutes and at the
    order boundaries before its newest sample, so its derivation runs once, after the order ended
    and a few more counter reads came in (live, an order this short would have its counts cut at
    the minute after it)."""
    from mes.quality.jobs import quality_job

    async with Simulator(SimulatorOptions(scenario="process", seed=3, speed=SPEED, opcua_port=None)) as sim:
        plant = curing_plant(sim.modbus_port, poll_interval=0.1)
        run_once(db, plant)
        create_spec(db, SpecIn(product_id="tube", characteristic="curing oven zone 1", unit="degC",
                               tag="oven_zone1", process_high=185, min_duration_s=0.2))
        order = create_order(db, "WO-LIVE", "curing", "tube", 4, by="planner")
        transition(db, order["id"], "running", by="operator")
        service = CollectorService(plant, db_url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=None,
                                                                 announce=False))
        running = asyncio.create_task(service.run(jobs=[quality_job(db_url, every_s=0.3)]))
        await asyncio.wait_for(service.started.wait(), 30)

        batch = sim.point(TAGS["batch_counter"])
        setpoint = sim.point(f"{OVEN}.Zone1Setpoint")
        lots: dict[int, str] = {}

        def follow_batches() -> None:
            """What an MES integration does at each batch start: close the last lot, open the next."""
            number = int(batch.value)
            if number not in lots:
                now = datetime.now(UTC)
                db.execute("UPDATE lots SET ended_at = %s WHERE work_order_id = %s AND ended_at IS NULL",
                           (now, order["id"]))
                lots[number] = create_lot(db, LotIn(code=f"B{number:06d}", work_order_id=order["id"], quantity=1,
                                                    started_at=now))["code"]

        phases = [(3 * 3600, 195.0), (3 * 3600 + 25 * 60, 180.0)]  # raise the oven setpoint for 25 minutes
        while int(batch.value) < 3 or sim.elapsed < 4 * 3600:
            follow_batches()
            if phases and sim.elapsed >= phases[0][0]:
                setpoint.set(phases.pop(0)[1], sim.now)  # what an operator's write does
            assert sim.elapsed < 9 * 3600, "the simulated line never reached its third batch"
            await asyncio.sleep(0.02)

        def nonconformances() -> list:
            return db.execute("SELECT id FROM nonconformances WHERE work_order_id = %s", (order["id"],)).fetchall()

        def batches_collected() -> float:
            return db.execute("SELECT coalesce(max(x.value), 0) FROM samples x JOIN tags t ON t.id = x.tag_id "
                              "WHERE t.name = 'batch_counter'").fetchone()[0]

        await _until(lambda: nonconformances(), 20, "the quality job to open a nonconformance")
        await _until(lambda: batches_collected() >= 3, 10, "the collector to read the third batch")
        transition(db, order["id"], "completed", by="operator")
        await asyncio.sleep(0.5)  # counter reads after the order's end
        service.stop()
        await asyncio.wait_for(running, 30)
    run_once(db, plant)  # states and counts from the collected samples

    excursion = list_excursions(db, work_order_id=order["id"])
    assert len(excursion) == 1 and 185 < excursion[0]["worst_value"] < 195
    nc = get_nonconformance(db, nonconformances()[0][0])
    assert (nc["work_order_id"], nc["source"]) == (order["id"], "excursion")
    assert nc["lot_code"] == excursion[0]["lot_code"] == lots[2]  # the second batch was curing at 3 h
    before = order_quality(db, order["id"])
    assert before["pq"] == 2 and before["quality_ratio"] == 1.0  # batches 1 and 2 completed
    disposition(db, nc["id"], DispositionIn(disposition="scrap", quantity=1, approved_by="qa-lead"))
    after = order_quality(db, order["id"])
    assert after["pq"] == before["pq"]
    assert after["quality_ratio"] == pytest.approx((before["pq"] - 1) / before["pq"])
