"""Time of a sample: never filed before its tag's last stored sample; restarts continue from the database;
heartbeats count receive time; a zero (1601) OPC UA timestamp is no timestamp."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from asyncua import ua

from collectors.config.models import Tag
from collectors.deadband import ReportByException
from collectors.drivers.opcua.points import Point, sample_of
from collectors.pipeline import Pipeline
from collectors.samples import BAD_NO_COMMUNICATION, GOOD, Sample
from collectors.service import CollectorService, ServiceOptions
from collectors.store import SampleStore
from simulator import Simulator, SimulatorOptions
from tests.collectors.store.helpers import plant, scale_plant


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT s.time, s.value, s.status, s.source_time FROM samples s JOIN tags t ON t.id = s.tag_id "
            "WHERE t.name = 't0' ORDER BY s.time"
        ).fetchall()


def test_an_unchanged_value_after_a_cut_is_filed_at_its_receive_time_keeping_its_source_time(
    db_url: str, tmp_path: Path
) -> None:
    config = plant(1)
    store = SampleStore.for_plant(config, db_url, spool_dir=tmp_path / "spool")
    pipeline = Pipeline(store, config.tags, batch_max_age_s=0.05)
    pipeline.start()
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    cut, back = before + timedelta(seconds=30), before + timedelta(seconds=60)
    pipeline.sink([Sample("t0", before, 4.0, received=before)])
    pipeline.sink([Sample("t0", cut, None, BAD_NO_COMMUNICATION, received=cut)])
    # The server hands back the unchanged value with its source timestamp from before the cut.
    pipeline.sink([Sample("t0", before, 4.0, received=back)])
    deadline = time.monotonic() + 10
    while store.stats.rows_committed < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline.stop()
    assert _rows(db_url) == [(before, 4.0, GOOD, None), (cut, None, BAD_NO_COMMUNICATION, None),
                             (back, 4.0, GOOD, before)]  # fmt: skip
    assert pipeline.stats.samples_restamped == 1


async def test_a_restarted_collector_does_not_store_unchanged_values_again(db_url: str, tmp_path: Path) -> None:
    options = SimulatorOptions(scenario="brewery", seed=2, tags=10, scale_protocols=("modbus",), opcua_port=None,
                               scale_interval=3600)  # fmt: skip
    async with Simulator(options) as sim:
        config = scale_plant(sim.modbus_port, 10, poll_interval=0.1)
        for run in range(2):
            service = CollectorService(config, db_url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=None,
                                                                      announce=False))  # fmt: skip
            running = asyncio.create_task(service.run())
            await asyncio.wait_for(service.started.wait(), 30)
            deadline = time.monotonic() + 20
            while service.pipeline.stats.samples_in < 50 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            service.stop()
            await asyncio.wait_for(running, 30)
            with psycopg.connect(db_url) as conn:
                stored = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
            assert stored == 10, f"run {run + 1}"


def test_the_heartbeat_counts_receive_time_when_the_source_time_stands_still() -> None:
    tag = Tag.model_validate({"name": "temp", "connection": "plc", "deadband": 100, "heartbeat": 5})
    frozen = datetime(2026, 3, 1, tzinfo=UTC)
    readings = [Sample("temp", frozen, 7.0, received=frozen + timedelta(seconds=i)) for i in range(12)]
    kept = ReportByException([tag]).filter(readings)
    assert [s.received - frozen for s in kept] == [timedelta(seconds=s) for s in (0, 5, 10)]


def test_a_zero_server_timestamp_from_a_read_is_no_timestamp() -> None:
    point = Point.of(1, Tag.model_validate({"name": "p", "connection": "c", "node_id": "ns=2;s=P"}))
    received = datetime.now(UTC)
    zero = datetime(1601, 1, 1, tzinfo=UTC)
    value = ua.DataValue(ua.Variant(2.5, ua.VariantType.Double), SourceTimestamp=zero, ServerTimestamp=zero)
    sample = sample_of(point, value, received, received)
    assert sample.server_time is None and sample.time == received
