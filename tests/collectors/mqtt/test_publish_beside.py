"""`linebrain collect --publish-also`: the database gets every sample, and the broker the same ones, live;
a broker outage costs the database nothing; a full publish spool is counted and said."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.config.models import Mqtt
from collectors.metrics import CollectorMetrics
from collectors.mqtt.beside import PublishBeside
from collectors.pipeline import Pipeline
from collectors.service import CollectorService, ServiceOptions
from collectors.sparkplug import payloads as spb
from collectors.store import SampleStore
from simulator import Simulator, SimulatorOptions
from tests.collectors.mqtt.broker import Mosquitto
from tests.collectors.store.helpers import cycle_of, ramp, scale_plant
from tests.conftest import free_port

pytestmark = pytest.mark.database
SEED, TAGS = 7, 6
Row = tuple[str, datetime, float | None, int]


class Subscriber:
    """Another consumer of the namespace (SCADA, a data lake): a persistent MQTT session, so the broker keeps
    what arrives while this client reconnects after a broker restart."""

    def __init__(self, port: int, group: str) -> None:
        self.group = group
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"watcher-{uuid.uuid4().hex[:8]}",
                                  protocol=paho.MQTTv5)  # fmt: skip
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.subscribed = threading.Event()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 300
        self.client.connect("127.0.0.1", port, clean_start=False, properties=properties)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _on_connect(self, client: paho.Client, *_: object) -> None:
        client.subscribe(f"{spb.NAMESPACE}/{self.group}/#", qos=1)
        self.subscribed.set()

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def kinds(self) -> list[str]:
        with self._lock:
            return [topic.split("/")[2] for topic, _ in self.messages]

    def data(self, names: dict[int, str]) -> set[Row]:
        """Every sample of every DDATA (a re-sent batch counts once), named by alias."""
        with self._lock:
            messages = list(self.messages)
        seen: set[Row] = set()
        for topic, body in messages:
            if topic.split("/")[2] == "DDATA":
                for metric in spb.decode(body).metrics:
                    sample = spb.metric_sample(metric, names[metric.alias])
                    value = sample.value if not isinstance(sample.value, str) else None
                    seen.add((sample.tag, sample.time, value, sample.status))
        return seen

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stored(url: str) -> set[Row]:
    with psycopg.connect(url) as conn:
        return set(conn.execute("SELECT t.name, s.time, s.value, s.status FROM samples s "
                                "JOIN tags t ON t.id = s.tag_id").fetchall())  # fmt: skip


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM samples").fetchone() or (0,)
        return int(rows)


async def until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.mark.plain_only("the broker is under test here; the store is the same on both flavours")
async def test_samples_go_to_the_database_and_the_broker_and_a_broker_outage_costs_the_database_nothing(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.25)  # fmt: skip
    group = f"beside{uuid.uuid4().hex[:6]}"
    watcher = Subscriber(mosquitto.port, group)
    async with Simulator(options) as sim:
        assert sim.modbus_port is not None
        plant = scale_plant(sim.modbus_port, TAGS, poll_interval=0.05, batch_max_age_s=0.2)
        plant = plant.model_copy(update={"mqtt": Mqtt(url=mosquitto.url, group=group, keepalive=2)})
        service = CollectorService(plant, db_url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=None,
                                                                 announce=False, publish_also=True,
                                                                 name="collect-beside", stop_timeout=5))  # fmt: skip
        running = asyncio.create_task(service.run())
        await asyncio.wait_for(service.started.wait(), 30)
        publisher = service.publisher
        assert publisher is not None and service.pipeline is not None
        store = service.pipeline.store
        await until(lambda: publisher.edge.births == 1 and count(db_url) >= 2 * TAGS, 15, "the first birth and data")

        mosquitto.stop()
        stored_before, first = count(db_url), sim.scale_cycle
        while sim.scale_cycle < first + 8:  # 2 s without a broker
            await asyncio.sleep(0.05)
        await until(lambda: store.pending_batches() == 0, 3, "the database store to be caught up")
        assert count(db_url) >= stored_before + 6 * TAGS  # the database went on storing every change
        assert store.stats.database_up and publisher.edge.pending_batches() > 0  # the publish side spools
        assert not publisher.broker_up  # linebrain_publish_broker_up 0

        mosquitto.start()
        await until(lambda: publisher.edge.births >= 2, 15, "a rebirth after the broker came back")
        await until(lambda: publisher.edge.pending_batches() == 0, 10, "the publish spool to drain")
        first = sim.scale_cycle
        while sim.scale_cycle < first + 3:
            await asyncio.sleep(0.05)
        service.stop()
        await asyncio.wait_for(running, 30)
    names = {alias: name for name, alias in publisher.edge.namespace.aliases.items()}
    database = stored(db_url)
    await until(lambda: watcher.data(names) >= database, 10, "the subscriber to get every stored sample")
    watcher.close()
    assert watcher.data(names) == database  # same tags, times (to the µs), values and qualities
    assert watcher.kinds().count("NBIRTH") >= 2 and watcher.kinds()[-1] == "NDEATH"
    assert publisher.rows_not_published == 0
    by_tag: dict[str, list[int]] = {}
    for name, _moment, value, _status in sorted(database, key=lambda row: (row[0], row[1])):
        by_tag.setdefault(name, []).append(cycle_of(int(name[1:]), int(value or 0), SEED))
    assert sorted(by_tag) == [f"s{i}" for i in range(TAGS)]
    for name, cycles in by_tag.items():  # every change stored once, in order, none missing — outage included
        assert cycles == list(range(cycles[0], cycles[-1] + 1)) and len(cycles) >= 12, name


def test_a_full_publish_spool_drops_publishing_only_and_says_so(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No broker at all and a 1 MB publish spool: the database gets every sample, the publish side drops what
    does not fit, counts it (metrics) and logs it as an error."""
    plant = scale_plant(free_port(), 4, batch_max_rows=2_000, batch_max_age_s=0.05)
    plant = plant.model_copy(update={"mqtt": Mqtt(url=f"mqtt://127.0.0.1:{free_port()}", publish_spool_mb=1)})
    store = SampleStore.for_plant(plant, db_url, spool_dir=tmp_path / "spool")
    publisher = PublishBeside.for_node(plant, "collect-full", plant.tags, tmp_path / "publish")
    pipeline = Pipeline.from_storage(store, plant.tags, plant.storage)
    pipeline.add_batch_listener(publisher.offer)
    publisher.start()
    pipeline.start()
    samples = ramp(4, 12_000, step_ms=1)  # 48,000 rows: about 2.5 MB spooled
    for sample in samples:  # the scale plant's tags are s0..s3
        sample.tag = "s" + sample.tag[1:]
    with caplog.at_level(logging.WARNING, logger="linebrain"):
        for start in range(0, len(samples), 4_000):
            pipeline.sink(samples[start : start + 4_000])
        assert pipeline.stop(10)
        publisher.close(0.5)
    assert count(db_url) == 48_000
    dropped = publisher.rows_dropped_spool_full
    assert 0 < dropped < 48_000 and publisher.edge.pending_batches() > 0  # what fitted waits in its spool
    assert any("DROPPED" in r.getMessage() and "MQTT broker" in r.getMessage() for r in caplog.records)
    assert any("NOT published" in r.getMessage() for r in caplog.records)
    families = {family.name: family for family in CollectorMetrics(pipeline, extra=publisher.metric_families).collect()}
    reasons = {s.labels["reason"]: s.value for s in families["linebrain_publish_dropped"].samples
               if s.name.endswith("_total")}  # fmt: skip
    assert reasons == {"queue_full": publisher.rows_dropped_queue_full, "spool_full": dropped}
    assert families["linebrain_publish_broker_up"].samples[0].value == 0.0
