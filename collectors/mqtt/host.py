"""``linebrain ingest``: a Sparkplug B host application that stores what edge nodes publish.

Exactly once, by the same rule as the spool: every stored message becomes one
batch whose id is derived from its content, and the store's ledger commits a
batch id once. A data message's id is the digest of its topic and payload with
``seq`` cleared (a QoS 1 redelivery, or the edge node re-sending a batch after a
lost connection, differs at most in ``seq``), so a duplicate is skipped by the
ledger however and wherever it arrives. A message is acknowledged (manual
PUBACK) only after its batch is in the ingest's own fsync'd spool: a SIGKILL
before that makes the broker deliver it again (persistent session), one after
it is replayed from the spool.

Several ingest processes split the data with an MQTT 5 shared subscription
(``$share/<share>/…``); births and deaths are subscribed by every process (not
shared), so each knows every alias. A data message whose aliases are unknown
(this process started after the births) is held unacknowledged and a rebirth is
asked for (NCMD ``Node Control/Rebirth``); it is stored when the birth arrives.
The host's STATE (``spBv1.0/STATE/<host id>``, retained, the will saying
offline) tells edge nodes that name it as primary host to rebirth.

With ``mqtt.seq_gap_rebirth`` the host also follows each node's ``seq``
(:mod:`collectors.mqtt.sequence`): a number still missing after the reorder
timeout means lost messages, and the node is asked for a rebirth (NCMD). Only
for a share group of one process: with several, each sees part of the numbers.

A node's NDEATH (with the ``bdSeq`` of its birth) or a device's DDEATH stores
one Bad_NoCommunication sample for each of its tags, at the time of death: the
tags read as bad until data comes again. Birth values set aliases only; they
are not stored (the data messages carry every sample, and a birth's last value
was stored when it was data).

Plain JSON topics (``mqtt.json_topics``) map one topic to one tag. With a time
field the batch id is the digest of topic and payload (so redelivery stores
nothing twice); without one the sample takes the receive time and a redelivery
cannot be told from a new reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as paho

from collectors.config.models import Mqtt, MqttJsonTopic, Plant
from collectors.mqtt.broker import connect, new_client, reason_failed
from collectors.mqtt.sequence import SeqTracker
from collectors.samples import BAD_NO_COMMUNICATION, GOOD, Sample
from collectors.sparkplug import payloads as spb
from collectors.store.sample_store import SampleStore

log = logging.getLogger("linebrain.mqtt.ingest")

_NAMESPACE = uuid.UUID("2b8f0f5e-6a43-4f0e-9c52-9d1f7e0b5a11")
_REBIRTH_EVERY_S = 3.0  # a node whose data we cannot read is asked again after this
_HELD_MAX = 10_000  # messages held per node waiting for a birth; beyond, the oldest are dropped (counted)
REORDER_TIMEOUT_S = 2.0  # a missing seq that has not come this long after the gap was seen is lost


@dataclass
class _Node:
    """What the host knows of one edge node."""

    bd_seq: int | None = None
    aliases: dict[str | None, dict[int, str]] = field(default_factory=dict)  # device (None: node) → alias → name
    held: list[paho.MQTTMessage] = field(default_factory=list)
    rebirth_asked: float = 0.0
    seq: SeqTracker = field(default_factory=SeqTracker)


@dataclass
class HostStats:
    messages: int = 0
    samples: int = 0
    batches: int = 0
    held: int = 0
    held_dropped: int = 0
    rebirths_asked: int = 0
    deaths: int = 0
    unreadable: int = 0
    unknown_metrics: int = 0
    seq_gaps: int = 0  # gaps in a node's seq that the reorder timeout did not close (mqtt.seq_gap_rebirth)


class SparkplugHost:
    """Subscribes, decodes, stores. ``start()``, then ``stop()``; the store is started and closed with it."""

    def __init__(self, plant: Plant, store: SampleStore, *, name: str = "ingest", host_id: str | None = None) -> None:
        if plant.mqtt is None:
            raise ValueError("the config has no mqtt section")
        self.mqtt: Mqtt = plant.mqtt
        self.store = store
        self.name = name
        self.host_id = host_id or self.mqtt.host_id
        self.stats = HostStats()
        self.connected = threading.Event()
        self._nodes: dict[tuple[str, str], _Node] = {}
        self._json: dict[str, MqttJsonTopic] = {topic.topic: topic for topic in self.mqtt.json_topics}
        self._lock = threading.Lock()
        self._client: paho.Client | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.reorder_timeout = REORDER_TIMEOUT_S

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.store.start()
        client, properties = new_client(self.mqtt, f"linebrain-{self.name}", clean_start=False,
                                        will=(self._state_topic(), self._state(False), True))  # fmt: skip
        client.manual_ack_set(True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 5)
        self._client = client
        connect(client, self.mqtt, properties, clean_start=False)
        client.loop_start()
        self._watcher = threading.Thread(target=self._watch_held, name="linebrain-ingest-held", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Say offline, disconnect, and send what is spooled for up to ``timeout`` s."""
        self._stop.set()
        client = self._client
        if client is not None:
            if self.connected.is_set():
                client.publish(self._state_topic(), self._state(False), qos=1, retain=True).wait_for_publish(2.0)
            client.disconnect()
            client.loop_stop()
        if self._watcher is not None:
            self._watcher.join(5)
        return self.store.close(timeout)

    # ------------------------------------------------------------------ STATE

    def _state_topic(self) -> str:
        return f"{spb.NAMESPACE}/STATE/{self.host_id}"

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": spb.now_ms()}).encode()

    def _on_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason_failed(reason):
            log.error("broker refused the connection: %s", reason)
            return
        share = f"$share/{self.mqtt.share}/"
        topics = [(f"{spb.NAMESPACE}/+/{kind}/#", 1) for kind in ("NBIRTH", "DBIRTH", "NDEATH", "DDEATH")]
        topics += [(f"{share}{spb.NAMESPACE}/+/NDATA/+", 1), (f"{share}{spb.NAMESPACE}/+/DDATA/+/+", 1)]
        topics += [(f"{share}{topic}", 1) for topic in self._json]
        client.subscribe(topics)

    def _on_subscribe(self, client: paho.Client, _userdata: Any, _mid: int, reasons: Any, _props: Any) -> None:
        """Subscribed: only now say online (Sparkplug 3.0), so edge nodes' rebirths reach us."""
        failed = [reason for reason in reasons if reason_failed(reason)]
        if failed:
            log.error("broker refused subscriptions: %s", failed)
        client.publish(self._state_topic(), self._state(True), qos=1, retain=True)
        self.connected.set()
        log.info("ingest %s subscribed at %s as host %s", self.name, self.mqtt.url, self.host_id)

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("broker connection lost (%s); reconnecting", reason)

    # ------------------------------------------------------------------ messages (paho's network thread)

    def _on_message(self, client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        self.stats.messages += 1
        try:
            done = self._handle(message)
        except Exception:  # one unreadable message must never stop the others
            self.stats.unreadable += 1
            log.exception("message on %s could not be read; skipped", message.topic)
            done = True
        if done and message.qos > 0:
            client.ack(message.mid, message.qos)

    def _handle(self, message: paho.MQTTMessage) -> bool:
        """Process one message; False when it is held (not to be acknowledged yet)."""
        if message.topic in self._json:
            self._store_json(self._json[message.topic], message)
            return True
        topic = spb.parse_topic(message.topic)
        if topic is None or topic.kind in ("NCMD", "DCMD"):
            return True
        payload = spb.decode(message.payload)
        key = (topic.group, topic.node)
        with self._lock:
            node = self._nodes.setdefault(key, _Node())
            if self.mqtt.seq_gap_rebirth:
                self._follow_seq(topic, node, payload)
            if topic.kind == "NBIRTH":
                bd_seq = spb.node_metric(payload, spb.BD_SEQ)
                node.bd_seq = int(bd_seq.long_value) if bd_seq is not None else None
                node.aliases[None] = _alias_names(payload)
                self._release(key, node)
            elif topic.kind == "DBIRTH":
                node.aliases[topic.device] = _alias_names(payload)
                self._release(key, node)
            elif topic.kind in ("NDATA", "DDATA"):
                if not self._store_data(topic, node, message, payload):
                    self._hold(key, node, message)
                    return False
            elif topic.kind == "NDEATH":
                self._node_death(topic, node, payload)
            elif topic.kind == "DDEATH":
                self._mark_dead(topic, node.aliases.get(topic.device, {}), f"{topic.device}:{payload.seq}")
        return True

    @staticmethod
    def _follow_seq(topic: spb.Topic, node: _Node, payload: Any) -> None:
        if topic.kind == "NBIRTH":
            node.seq.born()
        elif topic.kind in ("DBIRTH", "NDATA", "DDATA", "DDEATH") and payload.HasField("seq"):
            node.seq.seen(int(payload.seq))

    def _store_data(self, topic: spb.Topic, node: _Node, message: paho.MQTTMessage, payload: Any) -> bool:
        """Store a data message; False when an alias is unknown (the birth has not been seen)."""
        names = node.aliases.get(topic.device if topic.kind == "DDATA" else None)
        samples: list[Sample] = []
        for metric in payload.metrics:
            name = metric.name if metric.HasField("name") else (names or {}).get(metric.alias)
            if name is None:
                return False
            samples.append(spb.metric_sample(metric, name))
        payload.ClearField("seq")
        digest = hashlib.sha256(payload.SerializeToString(deterministic=True)).hexdigest()
        self._write(samples, uuid.uuid5(_NAMESPACE, f"{topic.group}/{topic.node}/{topic.device}:{digest}"))
        return True

    def _write(self, samples: list[Sample], batch_id: uuid.UUID) -> None:
        known = [sample for sample in samples if sample.tag in self.store.encoder.tags]
        self.stats.unknown_metrics += len(samples) - len(known)
        batch = self.store.encoder.encode(known)
        if batch is None:
            return
        if self.store.write_encoded(batch, batch_id) is not None:  # spooled (fsync'd): safe to acknowledge
            self.stats.samples += batch.rows
            self.stats.batches += 1

    # ------------------------------------------------------------------ births we have not seen

    def _hold(self, key: tuple[str, str], node: _Node, message: paho.MQTTMessage) -> None:
        node.held.append(message)
        self.stats.held += 1
        if len(node.held) > _HELD_MAX:
            node.held.pop(0)
            self.stats.held_dropped += 1
            log.error("edge node %s/%s: more than %d messages wait for its birth; the oldest is dropped", *key,
                      _HELD_MAX)  # fmt: skip
        self._ask_rebirth(key, node)

    def _ask_rebirth(self, key: tuple[str, str], node: _Node,
                     why: str = "data with aliases this host has not seen born") -> None:  # fmt: skip
        now = time.monotonic()
        if now - node.rebirth_asked < _REBIRTH_EVERY_S or self._client is None:
            return
        node.rebirth_asked = now
        command = spb.new_payload()
        spb.add_node_metric(command, spb.REBIRTH, spb.BOOLEAN, True)
        self._client.publish(str(spb.Topic(key[0], "NCMD", key[1])), command.SerializeToString(), qos=1)
        self.stats.rebirths_asked += 1
        log.info("asked edge node %s/%s for a rebirth (%s)", *key, why)

    def _release(self, key: tuple[str, str], node: _Node) -> None:
        """After a birth: store the held messages that can now be read, acknowledge them."""
        held, node.held = node.held, []
        for message in held:
            topic = spb.parse_topic(message.topic)
            assert topic is not None
            if self._store_data(topic, node, message, spb.decode(message.payload)):
                if self._client is not None:
                    self._client.ack(message.mid, message.qos)
            else:
                node.held.append(message)

    def _watch_held(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                for key, node in self._nodes.items():
                    if node.held:
                        self._ask_rebirth(key, node)
                    lost = node.seq.lost(self.reorder_timeout) if node.seq.missing else []
                    if lost:
                        self.stats.seq_gaps += 1
                        log.warning("edge node %s/%s: %d messages lost (seq %s missing after %.1f s)", *key,
                                    len(lost), ",".join(map(str, lost)), self.reorder_timeout)  # fmt: skip
                        node.rebirth_asked = 0.0  # a loss is asked about at once
                        self._ask_rebirth(key, node, f"seq {','.join(map(str, lost))} lost")

    # ------------------------------------------------------------------ deaths

    def _node_death(self, topic: spb.Topic, node: _Node, payload: Any) -> None:
        bd_seq = spb.node_metric(payload, spb.BD_SEQ)
        if bd_seq is None or node.bd_seq is None or int(bd_seq.long_value) != node.bd_seq:
            log.info("NDEATH of %s/%s with another bdSeq than its birth: a stale will, ignored",
                     topic.group, topic.node)  # fmt: skip
            return
        names: dict[int, str] = {}
        for device_names in node.aliases.values():
            names.update(device_names)
        self._mark_dead(topic, names, f"bdSeq {node.bd_seq}")
        node.bd_seq = None

    def _mark_dead(self, topic: spb.Topic, names: dict[int, str], which: str) -> None:
        """One Bad_NoCommunication sample per tag, at the time the death arrived."""
        self.stats.deaths += 1
        now = datetime.now(UTC)
        samples = [Sample(name, now, None, BAD_NO_COMMUNICATION) for name in sorted(set(names.values()))]
        log.warning("%s/%s%s died: %d tags marked bad", topic.group, topic.node,
                    f"/{topic.device}" if topic.device else "", len(samples))  # fmt: skip
        self._write(samples, uuid.uuid5(_NAMESPACE, f"death:{topic.group}/{topic.node}/{topic.device}:{which}"))

    # ------------------------------------------------------------------ plain JSON

    def _store_json(self, mapping: MqttJsonTopic, message: paho.MQTTMessage) -> None:
        sample, timed = json_sample(mapping, bytes(message.payload))
        batch_id = (uuid.uuid5(_NAMESPACE, f"json:{message.topic}:{hashlib.sha256(message.payload).hexdigest()}")
                    if timed else uuid.uuid4())  # fmt: skip
        self._write([sample], batch_id)


def _alias_names(payload: Any) -> dict[int, str]:
    """alias → name of a birth's metrics (node control metrics included; they are not tags)."""
    return {int(metric.alias): metric.name for metric in payload.metrics if metric.HasField("alias") and metric.name}


def json_sample(mapping: MqttJsonTopic, payload: bytes) -> tuple[Sample, bool]:
    """A JSON message → (sample, whether it carried its own time). Raises ValueError naming the field."""
    document = json.loads(payload)
    if not isinstance(document, dict):
        document = {mapping.value: document}
    if mapping.value not in document:
        raise ValueError(f"{mapping.topic}: no field {mapping.value!r}")
    value = document[mapping.value]
    if isinstance(value, bool):
        value = 1.0 if value else 0.0
    elif isinstance(value, int):
        value = float(value)
    elif value is not None and not isinstance(value, float | str):
        raise ValueError(f"{mapping.topic}: {mapping.value}: not a number or text")
    raw_time = document.get(mapping.time) if mapping.time else None
    if raw_time is None:
        moment, timed = datetime.now(UTC), False
    elif isinstance(raw_time, int | float):
        moment, timed = spb.from_ms(int(raw_time), round((raw_time - int(raw_time)) * 1000)), True
    else:
        moment, timed = datetime.fromisoformat(str(raw_time)), True
        if moment.tzinfo is None:
            raise ValueError(f"{mapping.topic}: {mapping.time}: a time needs its UTC offset")
    status = int(document.get(mapping.quality, GOOD)) if mapping.quality else GOOD
    return Sample(mapping.tag, moment, value, status), timed
