"""The collector as a Sparkplug B edge node: the spool, then the broker instead of the database.

:class:`SparkplugEdge` is a :class:`~collectors.store.SampleStore` whose sender
publishes instead of COPYing. Validation, the fsync'd spool, its size limits and
its replay after a restart are the store's own: samples are spooled first
(the metric alias where the database tag id would go) and a spooled batch is
let go only when the broker has acknowledged (QoS 1 PUBACK) every message of
it, and not with "No matching subscribers": Mosquitto forgets an ingest's shared
subscription when it restarts and drops data until the ingest subscribes again.
While the broker is away the spool fills, exactly as while a database is.

Sparkplug rules kept (Eclipse Sparkplug 3.0):

- Each connection is a fresh MQTT client with Clean Start and a will: NDEATH
  with the connection's ``bdSeq`` (counted per connect, kept in the spool
  folder so it keeps counting across restarts).
- After CONNACK: NBIRTH (``bdSeq``, ``Node Control/Rebirth``) and one DBIRTH
  per device with every metric's name, alias, type and last value; then
  NDATA/DDATA by alias only. ``seq`` runs 0–255 over the node's messages,
  NBIRTH being 0.
- An NCMD ``Node Control/Rebirth`` = true, or the primary host's STATE turning
  online, makes the node publish its births again before the next data.
- A clean stop publishes NDEATH itself, then disconnects.

A batch is published as one DDATA per device. A batch re-sent after a lost
connection carries the same metrics and payload timestamp (from the spool), so
the host's content digest recognises it (only ``seq`` differs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho

from collectors.config.models import Mqtt, Plant, Tag
from collectors.errors import ConfigError
from collectors.mqtt.broker import connect, new_client, reason_failed
from collectors.mqtt.namespace import EdgeNamespace
from collectors.mqtt.spooled import spooled_samples
from collectors.private_files import write_private
from collectors.samples import Sample
from collectors.sparkplug import payloads as spb
from collectors.store.rows import RowEncoder, catalog
from collectors.store.sample_store import SampleStore, _Outgoing
from collectors.store.spool import Spool

log = logging.getLogger("linebrain.mqtt.edge")

_ACK_TIMEOUT_S = 10.0
_CONNECT_TIMEOUT_S = 5.0
# A dropped connection is re-opened no sooner than this: a broker that is shutting down may still accept a
# connection and acknowledge messages after it saved its state for the last time (seen with Mosquitto), and
# what it acknowledged then is gone.
RECONNECT_DELAY_S = 1.0
# Batches the broker acknowledged this shortly before the connection dropped are published again after the
# reconnect: Mosquitto stopping acknowledges messages it then neither delivers nor saves (seen in the broker
# restart test). The host's content digest makes the second copy harmless.
RESEND_WINDOW_S = 2.0
# MQTT 5 PUBACK reason: the broker took the message but no subscription matched, so it went nowhere.
NO_MATCHING_SUBSCRIBERS = 0x10


class NoSubscriber(Exception):
    """The broker acknowledged a data message that no subscription matched: it delivered it to nobody."""


def _seq_field(seq: int) -> bytes:
    """Payload field 3 (seq, varint): appended to a serialised payload it sets ``seq`` (protobuf merges)."""
    return b"\x18" + (bytes([seq]) if seq < 128 else bytes([(seq & 0x7F) | 0x80, seq >> 7]))


class SparkplugEdge(SampleStore):
    """A sample store that publishes its spooled batches as a Sparkplug B edge node."""

    target = "the MQTT broker"

    def __init__(self, mqtt: Mqtt, namespace: EdgeNamespace, encoder: RowEncoder, spool: Spool, *,
                 source: str = "", needs_subscriber: bool = True) -> None:  # fmt: skip
        super().__init__("", encoder, spool, source=source)
        # True: a batch leaves the spool only when a subscription took every message of it (the ingest's
        # shared subscription can be missing at the broker, see docs/mqtt.md); False: an acknowledgement is
        # enough (collect --publish-also, where nobody need be listening).
        self.needs_subscriber = needs_subscriber
        self.mqtt = mqtt
        self.namespace = namespace
        self.names = {alias: name for name, alias in namespace.aliases.items()}
        self.last: dict[str, Sample] = {}  # tag → last value published (for births)
        self.births = 0  # NBIRTHs published (first one and rebirths)
        self._client: paho.Client | None = None
        self._connected = threading.Event()
        self._lost = threading.Event()
        self._rebirth = threading.Event()
        self._seq = 0
        self._bd_seq = -1
        self._dropped_at = float("-inf")  # monotonic time the last connection was found dropped
        self._recent: deque[tuple[float, bytes, int]] = deque()  # (acknowledged at, spooled rows, payload ms)
        self._owed: deque[tuple[bytes, int]] = deque()  # acknowledged just before a drop: to publish again
        self._unrouted: set[int] = set()  # mids the broker acknowledged with "No matching subscribers"
        self._session_lock = threading.Lock()  # one thread publishes at a time: seq stays in order
        self._keeper: threading.Thread | None = None

    @classmethod
    def for_node(cls, plant: Plant, node: str, tags: list[Tag], spool_dir: Path | str, *,
                 max_future_s: float = 86_400.0, spool_max_mb: int | None = None,
                 needs_subscriber: bool = True) -> SparkplugEdge:  # fmt: skip
        """The edge node ``node`` publishing ``tags`` of ``plant`` (whose ``mqtt`` section names the broker);
        its spool holds ``spool_max_mb`` (default: the config's ``storage.spool_max_mb``)."""
        if plant.mqtt is None:
            raise ConfigError(["mqtt: the config has no mqtt section (the broker to publish to)"])
        namespace = EdgeNamespace.for_tags(plant, node, tags)
        encoder = RowEncoder(catalog(plant, namespace.aliases), max_age_s=(plant.storage.retention_days + 1) * 86_400.0,
                             max_future_s=max_future_s)  # fmt: skip
        spool = Spool(spool_dir, (spool_max_mb or plant.storage.spool_max_mb) * 1024 * 1024)
        return cls(plant.mqtt, namespace, encoder, spool, source=node, needs_subscriber=needs_subscriber)

    @property
    def connected(self) -> bool:
        """True while the session with the broker is up (the last publish may have worked before it dropped)."""
        return self._connected.is_set() and not self._lost.is_set()

    # ------------------------------------------------------------------ topics

    def _topic(self, kind: str, device: str | None = None) -> str:
        return str(spb.Topic(self.namespace.group, kind, self.namespace.node, device))

    # ------------------------------------------------------------------ sending (the store's sender thread)

    def start(self) -> None:
        super().start()
        self._keeper = threading.Thread(target=self._keep_session, name="linebrain-edge-session", daemon=True)
        self._keeper.start()

    def _keep_session(self) -> None:
        """Connect and answer rebirth requests while no batch is waiting (the sender does it otherwise)."""
        backoff = 0.2
        while not self._stopping:
            if (self._rebirth.is_set() or self._lost.is_set() or self._client is None) and not self.pending_batches():
                with self._session_lock:
                    try:
                        self._ready()
                        backoff = 0.2
                    except NoSubscriber:  # the sender's retry logs it; just try again later
                        backoff = min(backoff * 2, 5.0)
                    except (OSError, ConnectionError, RuntimeError, ValueError) as exc:
                        self._lost_broker(exc)
                        backoff = min(backoff * 2, 5.0)
            with self._cond:
                self._cond.wait(backoff)

    def _send(self, item: _Outgoing) -> bool:
        with self._session_lock:
            return self._send_locked(item)

    def _send_locked(self, item: _Outgoing) -> bool:
        """Publish one spooled batch (one DDATA per device); True when the broker acknowledged all of it."""
        try:
            self._ready()
            payload = item.payload if item.payload is not None else self.spool.read(item.record)
            self._publish_batch(payload, item.record.last_us // 1000)
        except NoSubscriber as exc:
            if self.stats.last_error != str(exc):
                log.warning("%s; the batches stay in the spool and are retried", exc)
            self.stats.last_error = str(exc)
            return False
        except (OSError, ConnectionError, RuntimeError, ValueError) as exc:
            self._lost_broker(exc)
            return False
        self.stats.database_up = True
        if self.stats.last_error:
            log.warning("broker reachable again; publishing the %d spooled batches", self.pending_batches())
            self.stats.last_error = ""
        self.stats.batches_committed += 1
        self.stats.rows_committed += item.record.rows
        self.stats.committed_rate.update(self.stats.rows_committed)
        self.stats.last_flush_seconds = time.monotonic() - item.spooled_at
        if item.times_us is not None:
            self.stats.latency.observe_batch(round(time.time() * 1_000_000), item.times_us)
        return True

    def _publish_batch(self, payload: bytes, timestamp_ms: int, *, remember: bool = True) -> None:
        """Publish one batch and wait for every PUBACK; raises when the broker did not acknowledge all, or
        (``needs_subscriber``) acknowledged one that no subscription took."""
        infos = [self._publish(topic, body) for topic, body in self._messages(payload, timestamp_ms)]
        for info in infos:
            info.wait_for_publish(_ACK_TIMEOUT_S)
            if not info.is_published():
                raise ConnectionError("no PUBACK in time")
        unrouted = [info.mid for info in infos if info.mid in self._unrouted]
        self._unrouted.difference_update(info.mid for info in infos)
        if unrouted and self.needs_subscriber:
            raise NoSubscriber("the broker has no subscriber for the node's data (ingest not subscribed yet)")
        if not remember:
            return
        now = time.monotonic()
        self._recent.append((now, payload, timestamp_ms))
        while self._recent and self._recent[0][0] < now - RESEND_WINDOW_S:
            self._recent.popleft()

    def _resend_owed(self) -> None:
        """After a reconnect: publish again what was acknowledged just before the connection dropped; each
        batch is forgotten only once the broker took it again."""
        count = len(self._owed)
        while self._owed:
            payload, ms = self._owed[0]
            self._publish_batch(payload, ms, remember=False)
            self._owed.popleft()
        if count:
            log.info("published again the %d batches acknowledged just before the connection dropped", count)

    def _messages(self, payload: bytes, timestamp_ms: int) -> list[tuple[str, bytes]]:
        """(topic, payload without seq) per device, in the order the rows were spooled."""
        bodies: dict[str, Any] = {}
        for alias, sample in spooled_samples(payload):
            name = self.names.get(alias)
            if name is None:  # spooled under an older config that had this tag: nothing to name it by
                continue
            sample.tag = name
            device = self.namespace.device_of[name]
            body = bodies.get(device)
            if body is None:
                body = bodies[device] = spb.new_payload(timestamp_ms=timestamp_ms)
            spb.add_sample(body, sample, alias)
            self.last[name] = sample
        return [(self._topic("DDATA", device), body.SerializeToString()) for device, body in bodies.items()]

    def _publish(self, topic: str, body: bytes) -> paho.MQTTMessageInfo:
        """Publish at QoS 1 with the next ``seq`` (NBIRTH takes 0)."""
        assert self._client is not None
        info = self._client.publish(topic, body + _seq_field(self._seq), qos=1)
        self._seq = (self._seq + 1) % 256
        if info.rc != paho.MQTT_ERR_SUCCESS and info.rc != paho.MQTT_ERR_NO_CONN:
            raise ConnectionError(paho.error_string(info.rc))
        return info

    # ------------------------------------------------------------------ the session

    def _ready(self) -> None:
        """Connected and born (connecting, or publishing births, first when needed); raises when not."""
        if self._lost.is_set() or self._client is None:
            self._reconnect()
        if not self._connected.wait(_CONNECT_TIMEOUT_S):
            raise ConnectionError("no CONNACK from the broker")
        if self._rebirth.is_set():
            self._rebirth.clear()
            self._births()
        self._resend_owed()

    def _reconnect(self) -> None:
        if self._client is not None and self._connected.is_set():
            self._dropped_at = time.monotonic()
        self._owed.extend((payload, ms) for acked, payload, ms in self._recent
                          if acked >= self._dropped_at - RESEND_WINDOW_S)  # fmt: skip
        self._recent.clear()
        wait = self._dropped_at + RECONNECT_DELAY_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._drop_client()
        self._lost.clear()
        self._connected.clear()
        self._bd_seq = self._next_bd_seq()
        will = (self._topic("NDEATH"), self._death(), False)
        client_id = f"linebrain-{self.namespace.group}-{self.namespace.node}"
        client, properties = new_client(self.mqtt, client_id, clean_start=True, will=will)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self._unrouted.clear()
        self._client = client
        connect(client, self.mqtt, properties, clean_start=True)
        client.loop_start()

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def _next_bd_seq(self) -> int:
        path = self.spool.folder / "bdseq"
        try:
            last = int(path.read_text())
        except (OSError, ValueError):
            last = -1
        current = (last + 1) % 256
        write_private(path, str(current).encode())
        return current

    def _death(self) -> bytes:
        death = spb.new_payload()
        spb.add_node_metric(death, spb.BD_SEQ, spb.INT64, self._bd_seq)
        return bytes(death.SerializeToString())

    def _births(self) -> None:
        """NBIRTH (seq 0), then a DBIRTH per device with every metric and its last value."""
        self._seq = 0
        birth = spb.new_payload()
        spb.add_node_metric(birth, spb.BD_SEQ, spb.INT64, self._bd_seq)
        spb.add_node_metric(birth, spb.REBIRTH, spb.BOOLEAN, False)
        infos = [self._publish(self._topic("NBIRTH"), birth.SerializeToString())]
        now = spb.from_ms(birth.timestamp)
        for device, tags in self.namespace.devices.items():
            body = spb.new_payload(timestamp_ms=birth.timestamp)
            for tag in tags:
                last = self.last.get(tag.name) or Sample(tag.name, now, None)
                spb.add_sample(body, last, self.namespace.aliases[tag.name], tag.name)
            infos.append(self._publish(self._topic("DBIRTH", device), body.SerializeToString()))
        for info in infos:
            info.wait_for_publish(_ACK_TIMEOUT_S)
            if not info.is_published():
                raise ConnectionError("births not acknowledged in time")
        self.births += 1
        log.info("edge node %s/%s born (bdSeq %d, %d devices)", self.namespace.group, self.namespace.node,
                 self._bd_seq, len(self.namespace.devices))  # fmt: skip

    def _lost_broker(self, exc: BaseException) -> None:
        if self.stats.database_up or not self.stats.last_error:
            log.warning("MQTT broker unreachable, batches stay in the spool and are retried: %s", exc)
        self.stats.database_up = False
        self.stats.last_error = f"{type(exc).__name__}: {exc}".strip()
        self._lost.set()

    # ------------------------------------------------------------------ paho callbacks (its network thread)

    def _on_connect(self, client: paho.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason_failed(reason):
            self._lost.set()
            return
        subscriptions = [(self._topic("NCMD"), 1), (f"{spb.NAMESPACE}/{self.namespace.group}/DCMD/"
                                                       f"{self.namespace.node}/+", 1)]  # fmt: skip
        if self.mqtt.primary_host:
            subscriptions.append((f"{spb.NAMESPACE}/STATE/{self.mqtt.primary_host}", 1))
        client.subscribe(subscriptions)
        self._rebirth.set()
        self._connected.set()
        with self._cond:
            self._cond.notify_all()

    def _on_publish(self, _client: paho.Client, _userdata: Any, mid: int, reason: Any, _props: Any) -> None:
        if getattr(reason, "value", reason) == NO_MATCHING_SUBSCRIBERS:
            self._unrouted.add(mid)

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any) -> None:
        self._dropped_at = time.monotonic()
        self._connected.clear()
        self._lost.set()

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        if message.topic.startswith(f"{spb.NAMESPACE}/STATE/"):
            try:
                online = bool(json.loads(message.payload).get("online"))
            except (ValueError, AttributeError):
                return
            if online:
                log.info("primary host %s is online: rebirth", self.mqtt.primary_host)
                self._rebirth.set()
                with self._cond:
                    self._cond.notify_all()
            return
        try:
            command = spb.decode(message.payload)
        except Exception:  # a foreign or broken command must not take the node down
            log.warning("unreadable command on %s ignored", message.topic)
            return
        rebirth = spb.node_metric(command, spb.REBIRTH)
        if rebirth is not None and rebirth.boolean_value:
            log.info("rebirth requested on %s", message.topic)
            self._rebirth.set()
            with self._cond:
                self._cond.notify_all()

    # ------------------------------------------------------------------ stopping

    def close(self, timeout: float = 10.0) -> bool:
        """Publish what is spooled for up to ``timeout`` s, then NDEATH and disconnect."""
        sent_all = super().close(timeout)
        if self._keeper is not None:
            self._keeper.join(5)
        client = self._client
        if client is not None and self._connected.is_set():
            info = client.publish(self._topic("NDEATH"), self._death(), qos=1)
            info.wait_for_publish(2.0)
        self._drop_client()
        return sent_all
