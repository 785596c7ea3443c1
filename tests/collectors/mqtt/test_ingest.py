"""Collector (Sparkplug B edge node) → real Mosquitto → ingest → PostgreSQL, exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
import pytest

from collectors.config.models import Plant
from collectors.mqtt import SparkplugEdge, SparkplugHost
from collectors.samples import BAD_NO_COMMUNICATION, UNCERTAIN, Sample
from collectors.sparkplug import payloads as spb
from collectors.store import SampleStore
from tests.collectors.mqtt.broker import Mosquitto
from tests.collectors.mqtt.plants import plant_dict, write_plant
from tests.collectors.store.helpers import duplicates, ramp

pytestmark = pytest.mark.database
REPO = Path(__file__).resolve().parents[3]


def wait_for(check: Callable[[], bool], timeout: float = 20.0, what: str | Callable[[], str] = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


def stored(url: str) -> list[tuple[str, datetime, float | None, str | None, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT t.name, s.time, s.value, s.text_value, s.status FROM samples s "
                            "JOIN tags t ON t.id = s.tag_id ORDER BY t.name, s.time").fetchall()  # fmt: skip


def rows(url: str, good_only: bool = False) -> int:
    with psycopg.connect(url) as conn:
        where = " WHERE status = 0" if good_only else ""
        return int(conn.execute("SELECT count(*) FROM samples" + where).fetchone()[0])


def good_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT t.name, count(*) FROM samples s JOIN tags t ON t.id = s.tag_id "
                                 "WHERE s.status = 0 GROUP BY t.name").fetchall())  # fmt: skip


@pytest.fixture
def host(db_url: str, tmp_path: Path, mosquitto: Mosquitto) -> Iterator[Callable[[Plant], SparkplugHost]]:
    started: list[SparkplugHost] = []

    def start(plant: Plant) -> SparkplugHost:
        store = SampleStore.for_plant(plant, db_url, spool_dir=tmp_path / f"ingest-spool-{len(started)}")
        host = SparkplugHost(plant, store, name=f"ingest-{tmp_path.name}-{len(started)}")
        host.start()
        started.append(host)
        assert host.connected.wait(10)
        return host

    yield start
    for host in started:
        host.stop(5)


def edge_for(plant: Plant, folder: Path, node: str = "collect-test") -> SparkplugEdge:
    edge = SparkplugEdge.for_node(plant, node, plant.tags, folder)
    edge.start()
    return edge


def test_published_samples_are_stored_with_exact_values_times_and_qualities(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto, host: Callable[[Plant], SparkplugHost]
) -> None:
    _, plant = write_plant(tmp_path, plant_dict(mosquitto.url))
    ingest = host(plant)
    edge = edge_for(plant, tmp_path / "edge")
    moment = datetime.now(UTC).replace(microsecond=123_457) - timedelta(minutes=1)
    sent = [Sample("t0", moment, 0.1 + 0.2), Sample("t1", moment, -1e-300),
            Sample("t2", moment + timedelta(microseconds=1), None, BAD_NO_COMMUNICATION),
            Sample("t3", moment, 42.0, UNCERTAIN), Sample("batch_code", moment, "LOT-7")]  # fmt: skip
    edge.write(sent)
    wait_for(lambda: rows(db_url) == 5, what="5 stored samples")
    assert stored(db_url) == sorted([
        ("batch_code", moment, None, "LOT-7", 0), ("t0", moment, 0.30000000000000004, None, 0),
        ("t1", moment, -1e-300, None, 0), ("t2", moment + timedelta(microseconds=1), None, None, BAD_NO_COMMUNICATION),
        ("t3", moment, 42.0, None, UNCERTAIN),
    ])  # fmt: skip
    assert ingest.stats.batches == 2  # one DDATA per device: L1 (t0, t1) and plc (t2, t3, batch_code)
    assert edge.close(5)  # a clean stop says NDEATH: the tags read bad from then on
    wait_for(lambda: rows(db_url) == 10, what="a bad sample per tag")


def test_a_redelivered_message_and_a_resent_batch_are_stored_once(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto, host: Callable[[Plant], SparkplugHost]
) -> None:
    """A third-party edge node publishes the same DDATA twice (as QoS 1 redelivery or a re-send after a lost
    PUBACK does, with another seq): one copy is stored; a plain JSON topic with a time likewise."""
    config = plant_dict(mosquitto.url)
    config["mqtt"]["json_topics"] = [{"topic": "plant/meter/kwh", "tag": "t3", "value": "v", "time": "ts"}]
    _, plant = write_plant(tmp_path, config)
    ingest = host(plant)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="third-party", protocol=paho.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    birth = spb.new_payload(seq=0)
    spb.add_node_metric(birth, spb.BD_SEQ, spb.INT64, 0)
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    dbirth = spb.new_payload(seq=1)
    spb.add_sample(dbirth, Sample("t0", moment, 1.0), 7, "t0")
    data = spb.new_payload(seq=2)
    spb.add_sample(data, Sample("t0", moment + timedelta(seconds=1), 2.5), 7)
    again = spb.decode(data.SerializeToString())
    again.seq = 3
    ms = spb.to_ms(moment)[0]
    for topic, body in [("spBv1.0/G/NBIRTH/n1", birth), ("spBv1.0/G/DBIRTH/n1/d1", dbirth),
                        ("spBv1.0/G/DDATA/n1/d1", data), ("spBv1.0/G/DDATA/n1/d1", again)]:  # fmt: skip
        client.publish(topic, body.SerializeToString(), qos=1).wait_for_publish(5)
    for _ in range(2):
        client.publish("plant/meter/kwh", json.dumps({"v": 1234.5, "ts": ms}), qos=1).wait_for_publish(5)
    wait_for(lambda: ingest.stats.messages >= 6, what=f"six messages {ingest.stats}")
    wait_for(lambda: ingest.store.pending_batches() == 0, what="the ingest store to commit")
    client.loop_stop()
    client.disconnect()
    assert stored(db_url) == [("t0", moment + timedelta(seconds=1), 2.5, None, 0), ("t3", moment, 1234.5, None, 0)]
    assert ingest.store.stats.batches_skipped == 2


@pytest.mark.plain_only("the broker and the processes are under test here; the store is the same on both flavours")
def test_a_killed_collector_marks_its_tags_bad(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto, host: Callable[[Plant], SparkplugHost]
) -> None:
    config_path, plant = write_plant(tmp_path, plant_dict(mosquitto.url, keepalive=2))
    ingest = host(plant)
    edge = subprocess.Popen([sys.executable, "-m", "tests.collectors.mqtt.edge_process", str(config_path),
                             str(tmp_path / "edge"), "3"], cwd=REPO, stdout=subprocess.PIPE)  # fmt: skip
    try:
        assert edge.stdout is not None and edge.stdout.readline().strip() == b"published"
        wait_for(lambda: rows(db_url) == 12, what="12 samples")
        killed_at = datetime.now(UTC)
        os.kill(edge.pid, signal.SIGKILL)
        edge.wait()
        wait_for(lambda: ingest.stats.deaths == 1, timeout=15, what="the NDEATH will")
        wait_for(lambda: rows(db_url) == 17, what="a bad sample per tag")
    finally:
        if edge.poll() is None:
            edge.kill()
    with psycopg.connect(db_url) as conn:
        last = dict(conn.execute("SELECT DISTINCT ON (t.name) t.name, s.status FROM samples s JOIN tags t "
                                 "ON t.id = s.tag_id WHERE s.time >= %s ORDER BY t.name, s.time DESC",
                                 (killed_at,)).fetchall())  # fmt: skip
    assert last == {name: BAD_NO_COMMUNICATION for name in ("t0", "t1", "t2", "t3", "batch_code")}


class Feeder:
    """Writes a ramp into an edge node in steps from a thread, so outages happen mid-stream."""

    def __init__(self, edge: SparkplugEdge, tags: int, steps: int, per_step: int) -> None:
        self.samples = ramp(tags, steps * per_step, step_ms=1)
        self.edge, self.chunk = edge, tags * per_step
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for start in range(0, len(self.samples), self.chunk):
            self.edge.write(self.samples[start : start + self.chunk])
            time.sleep(0.05)


@pytest.mark.plain_only("the broker and the processes are under test here; the store is the same on both flavours")
def test_data_published_before_the_ingest_subscribes_again_after_a_broker_restart_waits_for_it(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """Mosquitto restores a stopped ingest's persistent session across its restart, but not the session's
    shared subscription: until the ingest subscribes again it acknowledges DDATA with "No matching
    subscribers" and drops it. The edge node keeps such batches spooled until the ingest takes them."""
    _, plant = write_plant(tmp_path, plant_dict(mosquitto.url))

    def ingest(spool: str) -> SparkplugHost:
        store = SampleStore.for_plant(plant, db_url, spool_dir=tmp_path / spool)
        started = SparkplugHost(plant, store, name=f"ingest-{tmp_path.name}")  # one name: one broker session
        started.start()
        assert started.connected.wait(10)
        return started

    ingest("ingest-spool-1").stop(5)  # its session (and, until the restart, its subscriptions) stay
    mosquitto.stop()
    mosquitto.start()
    edge = edge_for(plant, tmp_path / "edge")
    edge.write(ramp(4, 100))
    wait_for(lambda: edge.pending_batches() == 0 or "subscriber" in edge.stats.last_error,
             what=lambda: f"the edge to publish or to hold its batch: {edge.stats}")  # fmt: skip
    again = ingest("ingest-spool-2")
    try:
        wait_for(lambda: rows(db_url, good_only=True) == 400, timeout=20,
                 what=lambda: f"all 400 samples: {good_counts(db_url)}, {again.stats}")  # fmt: skip
        assert edge.close(5)
    finally:
        again.stop(5)
    assert good_counts(db_url) == {f"t{i}": 100 for i in range(4)}
    assert duplicates(db_url) == 0


@pytest.mark.plain_only("the broker and the processes are under test here; the store is the same on both flavours")
def test_broker_restart_loses_nothing_and_duplicates_nothing(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto, host: Callable[[Plant], SparkplugHost]
) -> None:
    _, plant = write_plant(tmp_path, plant_dict(mosquitto.url, keepalive=5))
    ingest = host(plant)
    edge = edge_for(plant, tmp_path / "edge")
    feeder = Feeder(edge, 4, steps=60, per_step=25)
    time.sleep(1.0)
    mosquitto.stop()
    time.sleep(1.5)  # the edge spools meanwhile
    assert edge.pending_batches() > 0
    mosquitto.start()
    feeder.thread.join()
    wait_for(lambda: rows(db_url, good_only=True) == 6000, timeout=40,
             what=lambda: f"all 6000 samples: {good_counts(db_url)}, {ingest.stats}")
    assert edge.close(5)
    # The broker sent the node's will when it went down: the tags read bad until the node came back.
    assert good_counts(db_url) == {f"t{i}": 1500 for i in range(4)}
    assert duplicates(db_url) == 0


@pytest.mark.plain_only("the broker and the processes are under test here; the store is the same on both flavours")
def test_an_ingest_killed_mid_stream_loses_nothing_and_gets_a_rebirth_when_it_returns(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    config_path, plant = write_plant(tmp_path, plant_dict(mosquitto.url, primary_host="linebrain"))
    command = [sys.executable, "-m", "mes.cli", "ingest", str(config_path), "--name", "ingest-kill",
               "--spool-dir", str(tmp_path / "ingest-spool"), "--database-url", db_url]  # fmt: skip
    ingest = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "ingest-spool" / ".lock").exists(), what="the ingest to start")
        time.sleep(0.5)
        edge = edge_for(plant, tmp_path / "edge")
        wait_for(lambda: edge.births >= 1, what="the first birth")
        feeder = Feeder(edge, 4, steps=60, per_step=25)
        wait_for(lambda: rows(db_url) > 1000, what="some samples stored")
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        births = edge.births
        time.sleep(1.0)  # the edge goes on publishing into the ingest's queue at the broker
        ingest = subprocess.Popen(command, cwd=REPO, stderr=subprocess.DEVNULL)
        feeder.thread.join()
        wait_for(lambda: edge.births > births, what="a rebirth after the ingest restart")
        wait_for(lambda: rows(db_url, good_only=True) == 6000, timeout=40,
                 what=lambda: f"all 6000 samples: {good_counts(db_url)}")
        assert edge.close(5)
    finally:
        ingest.send_signal(signal.SIGTERM)
        ingest.wait(20)
    assert good_counts(db_url) == {f"t{i}": 1500 for i in range(4)}
    assert duplicates(db_url) == 0
