"""A database outage: samples read while PostgreSQL is down are stored exactly once when it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from collectors.database.migrations import migrate
from collectors.service import CollectorService, ServiceOptions
from mes.cli.collect import read_status
from simulator import Simulator, SimulatorOptions
from tests.collectors.store.helpers import scale_plant, stored_cycles, wait_until
from tests.conftest import own_server

pytestmark = pytest.mark.faults
TAGS = 40
SEED = 3
OUTAGE_S = 60.0


@pytest.mark.soak  # waits out a 60 s outage: in scripts/test (CI), not in a bare pytest
async def test_samples_read_during_a_60s_database_outage_are_stored_exactly_once(
    tmp_path: Path, pg_data_dir: Path
) -> None:
    server = own_server(pg_data_dir / "pg")  # our own: we are going to stop it
    server.start()
    url = server.url()
    migrate(url)
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.5)  # fmt: skip
    try:
        async with Simulator(options) as sim:
            plant = scale_plant(sim.modbus_port, TAGS, poll_interval=0.1)
            service = CollectorService(plant, url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=0,
                                                                  announce=False, rollup_interval=5))  # fmt: skip
            running = asyncio.create_task(service.run())
            await asyncio.wait_for(service.started.wait(), 30)
            store = service.pipeline.store
            await wait_until(lambda: store.stats.batches_committed >= 2, 20, "first commits")

            await asyncio.to_thread(server.stop)
            outage_from = sim.scale_cycle
            await asyncio.sleep(OUTAGE_S)
            outage_to = sim.scale_cycle
            during = await asyncio.to_thread(read_status, f"http://127.0.0.1:{service.metrics_port}/metrics")
            assert not during["database_up"]
            assert during["spool_batches"] > OUTAGE_S / 3 and during["spool_bytes"] > 0

            assert (await asyncio.to_thread(server.start)).url() == url  # same port: clients find it again
            await wait_until(lambda: store.pending_batches() == 0 and store.stats.database_up, 60, "spool drained")
            final_cycle = sim.scale_cycle
            await asyncio.sleep(1.0)
            service.stop()
            await asyncio.wait_for(running, 60)
        assert outage_to - outage_from >= 0.7 * OUTAGE_S / 0.5  # the outage spanned dozens of changes

        cycles = stored_cycles(url, SEED)
        assert sorted(cycles) == list(range(TAGS))
        for index, seen in cycles.items():
            assert len(seen) == len(set(seen)), f"tag s{index}: duplicates"
            first, last = min(seen), max(seen)
            assert sorted(seen) == list(range(first, last + 1)), f"tag s{index}: a change is missing"
            assert first <= outage_from and last >= final_cycle  # the outage lies inside the stored run
        with psycopg.connect(url) as conn:
            rows, ledger = conn.execute(
                "SELECT (SELECT count(*) FROM samples), (SELECT sum(rows) FROM store_batches)"
            ).fetchone()
        assert rows == ledger
        assert list((tmp_path / "spool").glob("*.spool")) == []
    finally:
        server.stop()
