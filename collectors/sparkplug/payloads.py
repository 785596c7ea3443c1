"""Samples ↔ Sparkplug B payloads and topics (Eclipse Sparkplug 3.0).

A tag is one metric. Its name is the tag name; its alias is a 32-bit digest of
the name (31 bits: the spool keeps it where the database's tag id goes), so it
is the same on every host and after every config change (a spooled batch
replayed after a restart still names the right tag), and a
collision inside one edge node is refused when the node is set up. Numbers go
as Double (a sample's value is a double, so nothing is rounded), text as
String, a missing value as ``is_null``. Sparkplug has no quality field: a
sample that is not Good carries the OPC UA status code in the metric property
``Quality`` (UInt32), as Ignition's own quality property does. Sparkplug times
are milliseconds; a sample's sub-millisecond part travels in the property
``Microseconds``, so the stored time is exact.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.errors import ConfigError
from collectors.samples import GOOD, Sample
from collectors.sparkplug.schema import payload_class

NAMESPACE = "spBv1.0"
# Metric data types of the specification (the comment block of sparkplug_b.proto).
INT64, UINT32, DOUBLE, BOOLEAN, STRING = 4, 7, 10, 11, 12
BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
QUALITY = "Quality"
MICROSECONDS = "Microseconds"
NODE_KINDS = ("NBIRTH", "NDEATH", "NDATA", "NCMD")
DEVICE_KINDS = ("DBIRTH", "DDEATH", "DDATA", "DCMD")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_IN_ID = re.compile(r"[/+#\s]+")


@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    kind: str  # NBIRTH, DDATA, ...
    node: str
    device: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.kind}/{self.node}{tail}"


def parse_topic(topic: str) -> Topic | None:
    """A Sparkplug topic's parts, or None when it is not a Sparkplug node or device topic."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[0] == NAMESPACE and parts[2] in NODE_KINDS:
        return Topic(parts[1], parts[2], parts[3])
    if len(parts) == 5 and parts[0] == NAMESPACE and parts[2] in DEVICE_KINDS:
        return Topic(parts[1], parts[2], parts[3], parts[4])
    return None


def topic_id(text: str) -> str:
    """A name usable as a Sparkplug group, node or device id (no '/', '+', '#' or blanks)."""
    cleaned = _NOT_IN_ID.sub("_", text.strip())
    if not cleaned:
        raise ConfigError([f"{text!r} leaves no usable Sparkplug id"])
    return cleaned


def metric_alias(name: str) -> int:
    """The alias of a metric: 31 bits of the BLAKE2b digest of its name."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big") & 0x7FFF_FFFF


def aliases_for(names: Iterable[str]) -> dict[str, int]:
    """name → alias for one edge node; two names with one alias are refused (rename one tag)."""
    aliases: dict[str, int] = {}
    owners: dict[int, str] = {}
    for name in names:
        alias = metric_alias(name)
        if alias in owners and owners[alias] != name:
            raise ConfigError([f"tags {owners[alias]!r} and {name!r} get the same Sparkplug alias {alias}; "
                              "rename one of them"])  # fmt: skip
        owners[alias] = name
        aliases[name] = alias
    return aliases


def to_ms(moment: datetime) -> tuple[int, int]:
    """(milliseconds since the epoch, the microseconds left over)."""
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return micros // 1000, micros % 1000


def from_ms(ms: int, micros: int = 0) -> datetime:
    return _EPOCH + timedelta(microseconds=ms * 1000 + micros)


def now_ms() -> int:
    return to_ms(datetime.now(UTC))[0]


def new_payload(seq: int | None = None, timestamp_ms: int | None = None) -> Any:
    payload = payload_class()()
    payload.timestamp = now_ms() if timestamp_ms is None else timestamp_ms
    if seq is not None:
        payload.seq = seq
    return payload


def add_sample(payload: Any, sample: Sample, alias: int, name: str | None = None) -> None:
    """Append one sample as a metric (by alias; with its name too in a birth)."""
    metric = payload.metrics.add()
    if name is not None:
        metric.name = name
    metric.alias = alias
    ms, micros = to_ms(sample.time)
    metric.timestamp = ms
    value = sample.value
    if isinstance(value, str):
        metric.datatype = STRING
        metric.string_value = value
    else:
        metric.datatype = DOUBLE
        if value is None:
            metric.is_null = True
        else:
            metric.double_value = float(value)
    if sample.status != GOOD:
        _property(metric, QUALITY, sample.status)
    if micros:
        _property(metric, MICROSECONDS, micros)


def _property(metric: Any, key: str, number: int) -> None:
    metric.properties.keys.append(key)
    prop = metric.properties.values.add()
    prop.type = UINT32
    prop.int_value = number


def add_node_metric(payload: Any, name: str, datatype: int, value: int | bool) -> None:
    """A node-level metric of a birth or death (bdSeq, Node Control/Rebirth)."""
    metric = payload.metrics.add()
    metric.name = name
    metric.datatype = datatype
    metric.timestamp = payload.timestamp
    if datatype == BOOLEAN:
        metric.boolean_value = bool(value)
    else:
        metric.long_value = int(value)


def decode(data: bytes | bytearray) -> Any:
    """Bytes → Payload; raises ``google.protobuf.message.DecodeError`` on garbage."""
    return payload_class().FromString(data)


def metric_value(metric: Any) -> float | str | bool | None:
    """A metric's value in Python (None when null or of a kind we do not store)."""
    if metric.is_null:
        return None
    kind = metric.WhichOneof("value")
    if kind is None or kind in ("dataset_value", "template_value", "extension_value", "bytes_value"):
        return None
    value = getattr(metric, kind)
    if kind in ("int_value", "long_value"):
        return _signed(int(value), metric.datatype)
    return value


def _signed(value: int, datatype: int) -> int:
    """Sparkplug carries signed integers in unsigned fields (two's complement of their width)."""
    bits = {1: 8, 2: 16, 3: 32, 4: 64}.get(datatype)
    if bits is not None and value >= 1 << (bits - 1):
        return value - (1 << bits)
    return value


def metric_sample(metric: Any, name: str) -> Sample:
    """One data metric → a sample of tag ``name`` (value, time with its microseconds, quality)."""
    props = dict(zip(metric.properties.keys, (v.int_value for v in metric.properties.values), strict=False))
    value = metric_value(metric)
    number: float | str | None
    if isinstance(value, bool):
        number = 1.0 if value else 0.0
    elif isinstance(value, int):
        number = float(value)
    else:
        number = value
    return Sample(tag=name, time=from_ms(metric.timestamp, props.get(MICROSECONDS, 0)), value=number,
                  status=props.get(QUALITY, GOOD))  # fmt: skip


def node_metric(payload: Any, name: str) -> Any | None:
    for metric in payload.metrics:
        if metric.name == name:
            return metric
    return None
