"""`linebrain ingest` with `mqtt.seq_gap_rebirth`: a seq number that never comes means lost messages, so the
node is asked for a rebirth (NCMD Node Control/Rebirth, Sparkplug 3.0 message ordering); a late one is not."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
import pytest

from collectors.mqtt import SparkplugHost
from collectors.mqtt.sequence import SeqTracker
from collectors.samples import Sample
from collectors.sparkplug import payloads as spb
from collectors.store import SampleStore
from tests.collectors.mqtt.broker import Mosquitto
from tests.collectors.mqtt.plants import plant_dict, write_plant


def test_the_tracker_tells_a_late_message_from_a_lost_one_across_the_wrap() -> None:
    seq = SeqTracker()
    seq.seen(9, now=0.0)  # before any birth: nothing to compare with
    assert seq.missing == {}
    seq.born()
    for number in range(1, 254):
        seq.seen(number, now=0.0)
    seq.seen(255, now=1.0)  # 254 skipped
    seq.seen(1, now=1.0)  # 0 skipped (255 → 0 → 1 wraps)
    assert seq.missing == {254: 1.0, 0: 1.0} and seq.expected == 2
    seq.seen(254, now=1.5)  # late: closes its hole
    seq.seen(200, now=1.5)  # a redelivery from long ago: no hole, no jump
    assert seq.missing == {0: 1.0} and seq.expected == 2
    assert seq.lost(2.0, now=2.9) == [] and seq.gaps == 0
    assert seq.lost(2.0, now=3.0) == [0] and seq.gaps == 1 and seq.missing == {}
    seq.seen(5, now=4.0)
    seq.born()  # a rebirth starts a new count
    assert seq.missing == {} and seq.expected == 1


class ThirdPartyNode:
    """An edge node whose messages we number by hand, listening for the commands the host sends it."""

    def __init__(self, port: int) -> None:
        self.rebirths: list[float] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="seq-node", protocol=paho.MQTTv5)
        subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe("spBv1.0/G/NCMD/n1", qos=1)
        assert subscribed.wait(5)

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        rebirth = spb.node_metric(spb.decode(message.payload), spb.REBIRTH)
        if rebirth is not None and rebirth.boolean_value:
            self.rebirths.append(time.monotonic())

    def publish(self, topic: str, payload: object) -> None:
        self.client.publish(f"spBv1.0/G/{topic}", payload.SerializeToString(), qos=1).wait_for_publish(5)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.database
@pytest.mark.plain_only("the broker and the host are under test here; the store is the same on both flavours")
def test_a_seq_gap_that_stays_open_asks_for_a_rebirth_and_a_late_message_does_not(
    db_url: str, tmp_path: Path, mosquitto: Mosquitto
) -> None:
    config = plant_dict(mosquitto.url)
    config["mqtt"]["seq_gap_rebirth"] = True
    _, plant = write_plant(tmp_path, config)
    host = SparkplugHost(plant, SampleStore.for_plant(plant, db_url, spool_dir=tmp_path / "ingest"),
                         name=f"ingest-seq-{time.time_ns()}")  # fmt: skip
    host.reorder_timeout = 0.5
    host.start()
    node = ThirdPartyNode(mosquitto.port)
    try:
        assert host.connected.wait(10)
        moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        birth = spb.new_payload(seq=0)
        spb.add_node_metric(birth, spb.BD_SEQ, spb.INT64, 0)
        node.publish("NBIRTH/n1", birth)
        dbirth = spb.new_payload(seq=1)
        spb.add_sample(dbirth, Sample("t0", moment, 0.0), 7, "t0")
        node.publish("DBIRTH/n1/d1", dbirth)

        def data(seq: int) -> None:
            body = spb.new_payload(seq=seq)
            spb.add_sample(body, Sample("t0", moment + timedelta(seconds=seq), float(seq)), 7)
            node.publish("DDATA/n1/d1", body)

        for seq in (2, 4, 3):  # 3 comes late, within the reorder timeout: nothing is lost
            data(seq)
        time.sleep(1.5)  # past the timeout and a turn of the host's watcher
        assert node.rebirths == [] and host.stats.seq_gaps == 0
        data(6)  # 5 never comes
        deadline = time.monotonic() + 5
        while not node.rebirths and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(node.rebirths) == 1 and host.stats.seq_gaps == 1
        assert host.store.flush(5)
    finally:
        node.close()
        host.stop(5)
    with psycopg.connect(db_url) as conn:
        values = [row[0] for row in conn.execute("SELECT value FROM samples ORDER BY time").fetchall()]
    assert values == [2.0, 3.0, 4.0, 6.0]  # what came is stored either way
