"""One configured OPC UA tag as the driver uses it, and DataValue → Sample.

The conversion runs once per notification, so it is kept flat: no Node
objects, no per-value allocation beyond the Sample itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from asyncua import ua

from collectors.config.models import Tag
from collectors.samples import Sample


@dataclass(slots=True)
class Point:
    """A tag of this connection: its name, address text and scaling."""

    handle: int
    tag: Tag
    name: str
    address: str
    scale: float
    offset: float
    scaled: bool

    @classmethod
    def of(cls, handle: int, tag: Tag) -> Point:
        address = tag.node_id or f"path:{tag.browse_path}"
        scaled = tag.scale != 1.0 or tag.offset != 0.0
        return cls(handle, tag, tag.name, address, tag.scale, tag.offset, scaled)


def split_value(point: Point, raw: object) -> tuple[float | None, str | None]:
    """Numbers (and bools) become floats, with the tag's scale and offset; the rest text."""
    kind = type(raw)  # exact-type checks first: this runs once per notification
    if kind is float or kind is int:
        value = float(raw)  # type: ignore[arg-type]
        return (value * point.scale + point.offset if point.scaled else value), None
    if raw is None:
        return None, None
    if kind is bool:
        return float(raw), None  # type: ignore[arg-type]
    if kind is str:
        return None, raw  # type: ignore[return-value]
    if isinstance(raw, Enum):
        return float(raw.value), None
    if isinstance(raw, bool):
        return float(raw), None
    if isinstance(raw, int | float):
        value = float(raw)
        return (value * point.scale + point.offset if point.scaled else value), None
    if isinstance(raw, str):
        return None, raw
    if isinstance(raw, ua.LocalizedText):
        return None, raw.Text
    if isinstance(raw, datetime):
        return None, raw.isoformat()
    if isinstance(raw, bytes):
        return None, raw.hex()
    return None, str(raw)


_NOT_SET = datetime(1601, 1, 2)  # compared without the zone: asyncua's datetimes may be naive UTC


def sample_of(point: Point, value: ua.DataValue | None, received: datetime, fallback_time: datetime) -> Sample:
    """The Sample of one DataValue: source time first, then server time, then ``fallback_time``."""
    if value is None:
        return Sample(point.name, fallback_time, None, 0x80000000, None, None, received)
    variant = value.Value
    number, text = split_value(point, variant.Value if variant is not None else None)
    code = value.StatusCode
    server_time = _real_time(value.ServerTimestamp)
    return Sample(point.name, _real_time(value.SourceTimestamp) or server_time or fallback_time, number,
                  code.value if code is not None else 0, text, server_time, received)


def _real_time(moment: datetime | None) -> datetime | None:
    """None for a missing timestamp and for a zero one (DateTime 0 decodes as 1601-01-01: "not set"), as the
    subscription path's decoder does."""
    if moment is None or moment.replace(tzinfo=None) <= _NOT_SET:
        return None
    return moment


def change_sample(point: Point, value: object, status: int, source: datetime | None, server: datetime | None,
                  received: datetime) -> Sample:
    """The Sample of one fast-decoded data change (see :mod:`collectors.drivers.opcua.fastpublish`)."""
    number, text = split_value(point, value)
    return Sample(point.name, source or server or received, number, status, text, server, received)


def bad_sample(point: Point, status: int, when: datetime) -> Sample:
    """A sample saying the tag could not be read (or subscribed), with why."""
    return Sample(point.name, when, None, status, None, None, when)
