"""Fault injection (``-m faults``): a deterministic simulator, a fault, then every change of every tag counted.

Each test runs the collector service against the simulator's scale tags (each changes once per
``scale_interval``; deadband 0 and a long heartbeat store each change exactly once), injects one
fault, and checks per tag: no cycle stored twice, and every missing change is one the collector
counted as lost (``linebrain_samples_dropped_total``) — the only documented loss. The database
outage and SIGKILL cases live in ``tests/collectors/store/test_outage.py`` and ``test_kill.py``
(marked ``faults`` too); the OPC UA network cut in ``tests/collectors/drivers/opcua``.
"""

from __future__ import annotations

import asyncio
import struct
import time
from array import array
from pathlib import Path

import psycopg
import pytest

from collectors.config.models import Plant
from collectors.database.migrations import migrate
from collectors.samples import BAD_NO_COMMUNICATION, BAD_OUT_OF_RANGE, UNCERTAIN
from collectors.service import CollectorService, ServiceOptions
from collectors.store import refresh_rollups
from simulator import Simulator, SimulatorOptions
from simulator.faults import ModbusFaults
from simulator.modbus_server import ModbusTcpServer
from simulator.registers import UnitBank
from simulator.scale import opcua_name
from tests.collectors.store.helpers import duplicates, scale_plant, stored_cycles, tiny_filesystem, wait_until
from tests.conftest import own_server

pytestmark = pytest.mark.faults
TAGS = 40
SEED = 11


def _gaps(cycles: dict[int, list[int]]) -> int:
    """Changes missing inside each tag's stored run, summed; asserts no change was stored twice."""
    missing = 0
    for index, seen in cycles.items():
        assert len(seen) == len(set(seen)), f"tag s{index}: a change stored twice"
        missing += (max(seen) - min(seen) + 1) - len(seen)
    return missing


async def test_a_full_disk_under_the_spool_loses_only_counted_changes(
    tmp_path: Path, pg_data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = own_server(pg_data_dir / "pg")
    server.start()
    url = server.url()
    migrate(url)
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.2)  # fmt: skip
    try:
        with tiny_filesystem(tmp_path / "disk", 96) as disk:
            async with Simulator(options) as sim:
                plant = scale_plant(sim.modbus_port, TAGS, poll_interval=0.05)
                service = CollectorService(plant, url, ServiceOptions(spool_dir=disk / "spool", metrics_port=0,
                                                                      announce=False))  # fmt: skip
                running = asyncio.create_task(service.run())
                await asyncio.wait_for(service.started.wait(), 30)
                store = service.pipeline.store
                await wait_until(lambda: store.stats.batches_committed >= 2, 20, "first commits")
                await asyncio.to_thread(server.stop)  # the spool now fills the 96 KB disk
                await wait_until(lambda: store.stats.rows_dropped_disk_full > 0, 40, "the disk to fill")
                await asyncio.sleep(2)
                await asyncio.to_thread(server.start)
                await wait_until(lambda: store.pending_batches() == 0 and store.stats.database_up, 60, "spool drained")
                after = store.stats.rows_committed
                await wait_until(lambda: store.stats.rows_committed > after + 2 * TAGS, 20, "spooling again")
                service.stop()
                await asyncio.wait_for(running, 60)
                dropped = store.stats.rows_dropped_disk_full
        cycles = stored_cycles(url, SEED)
        assert sorted(cycles) == list(range(TAGS))
        assert _gaps(cycles) == dropped > 0  # every lost change is a counted one
        assert f"samples NOT stored by this run: {dropped} dropped: disk full" in caplog.text
        assert duplicates(url) == 0
    finally:
        server.stop()


def _words(data: bytes) -> list[int]:
    return list(struct.unpack(f">{len(data) // 2}H", data))


async def test_nul_and_overflow_values_from_a_device_are_stored_flagged_and_stop_nothing(
    db_url: str, tmp_path: Path
) -> None:
    # A small real Modbus server (the simulator's) holding a string with a NUL and a float64 of 1e200, next
    # to the simulator's changing scale tags on another connection.
    hostile = UnitBank(1, holding=array("H", _words(b"AB\x00CDEFG") + _words(struct.pack(">d", 1e200))))
    device = ModbusTcpServer({1: hostile}, ModbusFaults(), lambda point, bank: False)
    await device.start()
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.2)  # fmt: skip
    try:
        async with Simulator(options) as sim:
            base = scale_plant(sim.modbus_port, TAGS, poll_interval=0.05).model_dump(mode="json")
            base["connections"].append({"id": "odd", "protocol": "modbus", "host": "127.0.0.1",
                                        "port": device.port, "poll_groups": [{"name": "default", "interval": 0.1}]})
            base["tags"] += [
                {"name": "code", "connection": "odd", "unit_id": 1, "table": "holding_register", "address": 0,
                 "data_type": "string", "length": 4, "heartbeat": 3600},
                {"name": "huge", "connection": "odd", "unit_id": 1, "table": "holding_register", "address": 4,
                 "data_type": "float64", "heartbeat": 3600},
            ]  # fmt: skip
            service = CollectorService(Plant.model_validate(base), db_url,
                                       ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=0, announce=False))
            running = asyncio.create_task(service.run())
            await asyncio.wait_for(service.started.wait(), 30)
            store = service.pipeline.store
            await wait_until(lambda: store.stats.batches_committed >= 8, 30, "commits")
            service.stop()
            await asyncio.wait_for(running, 60)
    finally:
        await device.stop()
    assert store.stats.rows_quarantined == 0 and store.stats.batches_quarantined == 0
    with psycopg.connect(db_url) as conn:
        odd = {name: (value, text, status) for name, value, text, status in conn.execute(
            "SELECT t.name, s.value, s.text_value, s.status FROM samples s JOIN tags t ON t.id = s.tag_id "
            "WHERE t.name IN ('code', 'huge')")}  # fmt: skip
    assert odd["code"][1] == "AB\ufffdCDEFG" and odd["code"][2] == UNCERTAIN
    assert odd["huge"] == (None, "1e+200", BAD_OUT_OF_RANGE)
    scale = stored_cycles(db_url, SEED)
    assert sorted(scale) == list(range(TAGS)) and _gaps(scale) == 0
    refresh_rollups(db_url)  # the overflow value does not break the rollups


async def test_a_network_cut_to_an_opcua_server_is_shown_down_counted_bad_and_resumes_in_order(
    db_url: str, tmp_path: Path
) -> None:
    """Values do not change during the cut: what comes back must be filed after the BadNoCommunication row and
    never duplicate the row before the cut; status shows the connection down and counts the bad samples."""
    from mes.cli.collect import read_status

    count = 5
    options = SimulatorOptions(modbus_port=None, tags=count, scale_protocols=("opcua",), scale_interval=3600)
    async with Simulator(options) as sim:
        config = Plant.model_validate({
            "site": {"name": "cut"},
            "connections": [{"id": "scada", "protocol": "opcua", "endpoint": sim.opcua_endpoint, "timeout": 1.0,
                             "subscriptions": [{"name": "default", "publishing_interval": 0.1}]}],
            "tags": [{"name": f"s{i}", "connection": "scada", "mode": "subscribe", "heartbeat": 3600,
                      "node_id": f"ns={sim.opcua_namespace};s={opcua_name(i)}"} for i in range(count)],
        })  # fmt: skip
        service = CollectorService(config, db_url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=0,
                                                                  announce=False))  # fmt: skip
        running = asyncio.create_task(service.run())
        await asyncio.wait_for(service.started.wait(), 30)
        store = service.pipeline.store
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        await wait_until(lambda: store.stats.rows_committed >= count, 20, "first values")
        sim.stop_answering("opcua")  # the network is cut: nothing comes back from the server
        cut = time.monotonic()
        down = None
        while time.monotonic() - cut < 30:
            status = (await asyncio.to_thread(read_status, url))["connections"]["scada"]
            if not status["up"]:
                down = time.monotonic() - cut
                break
            await asyncio.sleep(0.2)
        assert down is not None, "status kept showing the dead connection up"
        await wait_until(lambda: store.stats.rows_committed >= 2 * count, 20, "BadNoCommunication rows")
        status = (await asyncio.to_thread(read_status, url))["connections"]["scada"]
        assert status["bad_samples"] >= count
        sim.clear_faults()
        await wait_until(lambda: store.stats.rows_committed >= 3 * count, 60, "values after the cut")
        await asyncio.sleep(1)
        service.stop()
        await asyncio.wait_for(running, 60)
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT t.name, s.time, s.status, s.source_time, s.value FROM samples s "
                            "JOIN tags t ON t.id = s.tag_id ORDER BY t.name, s.time").fetchall()  # fmt: skip
    per_tag: dict[str, list[tuple]] = {}
    for name, moment, status, source, value in rows:
        per_tag.setdefault(name, []).append((moment, status, source, value))
    assert sorted(per_tag) == [f"s{i}" for i in range(count)]
    for name, history in per_tag.items():
        statuses = [status for _, status, _, _ in history]
        assert statuses == [0, BAD_NO_COMMUNICATION, 0], (name, history)
        before, lost, back = history
        # After the BadNoCommunication row, with the same value; a server that hands back the old source
        # timestamp gets it kept in source_time (the simulator's stamps its values anew).
        assert back[0] > lost[0] and back[2] in (None, before[0]) and back[3] == before[3]
    assert duplicates(db_url) == 0
    print(f"connection shown down {down:.1f} s after the cut")
