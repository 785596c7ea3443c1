"""`linebrain collect --publish` end to end: simulator → Modbus → collector (edge node) → Mosquitto → ingest."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest

from collectors.config.models import Mqtt
from collectors.mqtt import SparkplugHost
from collectors.service import CollectorService, ServiceOptions
from collectors.store import SampleStore
from simulator import Simulator, SimulatorOptions
from tests.collectors.mqtt.broker import Mosquitto
from tests.collectors.store.helpers import cycle_of, scale_plant

pytestmark = pytest.mark.database
SEED, TAGS = 5, 8


async def test_a_publishing_collector_delivers_every_simulated_change_once(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.5)  # fmt: skip
    async with Simulator(options) as sim:
        plant = scale_plant(sim.modbus_port, TAGS, poll_interval=0.1)
        plant = plant.model_copy(update={"mqtt": Mqtt(url=mosquitto.url, share=f"s{time.time_ns()}")})
        host = SparkplugHost(plant, SampleStore.for_plant(plant, db_url, spool_dir=tmp_path / "ingest"),
                             name=f"ingest-{time.time_ns()}")  # fmt: skip
        host.start()
        assert host.connected.wait(10)
        service = CollectorService(plant, "", ServiceOptions(spool_dir=tmp_path / "edge", metrics_port=None,
                                                             announce=False, publish=True, name="collect-sim"))
        running = asyncio.create_task(service.run())
        await asyncio.wait_for(service.started.wait(), 30)
        first = sim.scale_cycle
        while sim.scale_cycle < first + 6:
            await asyncio.sleep(0.1)
        service.stop()
        await asyncio.wait_for(running, 30)
        deadline = time.monotonic() + 10
        while host.stats.deaths == 0 and time.monotonic() < deadline:  # the stopped node says NDEATH
            await asyncio.sleep(0.05)
        assert host.store.flush(10)
        host.stop(5)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT t.name, s.value FROM samples s JOIN tags t ON t.id = s.tag_id "
                            "WHERE s.status = 0 ORDER BY t.name, s.time").fetchall()  # fmt: skip
        bad = conn.execute("SELECT count(*) FROM samples WHERE status <> 0").fetchone()[0]
    cycles: dict[str, list[int]] = {}
    for name, value in rows:
        cycles.setdefault(name, []).append(cycle_of(int(name[1:]), int(value), SEED))
    assert sorted(cycles) == [f"s{i}" for i in range(TAGS)]
    for name, seen in cycles.items():  # every change once, in order, none missing between first and last
        assert seen == list(range(seen[0], seen[-1] + 1)) and len(seen) >= 5, name
    assert bad == TAGS  # the clean stop's NDEATH: one bad sample per tag
