"""Samples → PostgreSQL binary COPY rows, validated first.

Validation happens before anything reaches the spool or the database, so one bad
reading can never poison a batch (a COPY fails as a whole). Each sample ends up:

- stored as is;
- stored *flagged*: NaN or ±infinity (value NULL, the text kept in
  ``text_value``, status Bad_OutOfRange unless already bad) and a string for a
  numeric tag (value NULL, text kept, status Bad_TypeMismatch);
- *rejected* with a logged reason: a tag not in the config, a time outside the
  sane window (older than retention, or further in the future than
  ``max_future_s``), a time that is not a datetime.

The encoded bytes are exactly what ``COPY samples FROM STDIN (FORMAT BINARY)``
expects between its header and trailer, so the spool holds what will be sent
and a replay does no re-encoding.
"""

from __future__ import annotations

import logging
import math
import struct
import time as _time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.config.models import DataType, Plant, Tag
from collectors.samples import BAD_OUT_OF_RANGE, BAD_TYPE_MISMATCH, Sample, is_bad

log = logging.getLogger("linebrain.store")

COLUMNS = "time, tag_id, value, text_value, status, server_time, received_time"
COPY_SQL = f"COPY samples ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
_NULL = -1
_FAST_RECEIVED = (True, -1, False, True)  # value, no text, no server time, received time
_FAST_PLAIN = (True, -1, False, False)
_TEXT_TYPES = {DataType.string, DataType.string_bytewise}


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the store needs of a configured tag."""

    tag_id: int
    text: bool  # a string tag: the value goes to text_value
    numeric: bool  # a numeric tag: a string value is a type mismatch


def catalog(plant: Plant, tag_ids: dict[str, int]) -> dict[str, TagInfo]:
    """Name → TagInfo for every configured tag that has an id in the registry."""
    return {tag.name: _info(tag, tag_ids[tag.name]) for tag in plant.tags if tag.name in tag_ids}


def _info(tag: Tag, tag_id: int) -> TagInfo:
    text = tag.data_type in _TEXT_TYPES
    return TagInfo(tag_id=tag_id, text=text, numeric=not text and tag.data_type is not DataType.auto)


@dataclass
class EncodedBatch:
    """Rows ready for COPY, plus what the ledger and the latency figures need."""

    payload: bytes
    rows: int
    first_us: int  # Unix microseconds of the earliest / latest source time
    last_us: int
    times_us: array = field(default_factory=lambda: array("q"))  # source times, for latency


@dataclass
class Validation:
    """Counts of what validation did to the samples it saw."""

    rejected: Counter = field(default_factory=Counter)  # reason → samples
    flagged: Counter = field(default_factory=Counter)


def unix_us(moment: datetime) -> int:
    """Exact Unix microseconds of a datetime; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


def from_unix_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


class RowEncoder:
    """Validates samples and encodes the good (and flagged) ones as binary COPY rows.

    ``max_age_s`` bounds how old a sample may be (the retention: older data would be
    dropped at once, and plain PostgreSQL would need partitions for it); ``max_future_s``
    bounds clock skew. Both keep partition creation inside a sane window.
    """

    def __init__(self, tags: dict[str, TagInfo], *, max_age_s: float, max_future_s: float = 86_400.0) -> None:
        self.tags = tags
        self.max_age_s = max_age_s
        self.max_future_s = max_future_s
        self.validation = Validation()
        self._structs: dict[tuple[bool, int, bool, bool], struct.Struct] = {}
        self._logged: set[tuple[str, str]] = set()

    def encode(self, samples: list[Sample]) -> EncodedBatch | None:
        """Encode ``samples``; None when every one was rejected."""
        now_us = round(_time.time() * 1_000_000)
        low_us = now_us - round(self.max_age_s * 1_000_000)
        high_us = now_us + round(self.max_future_s * 1_000_000)
        parts: list[bytes] = []
        times = array("q")
        # The common reading (a finite number, no text, no server time) is packed inline: this loop
        # runs for every sample at tens of thousands per second, so it avoids calls and lookups.
        pack_received = (self._structs.get(_FAST_RECEIVED) or self._compile(_FAST_RECEIVED)).pack
        pack_plain = (self._structs.get(_FAST_PLAIN) or self._compile(_FAST_PLAIN)).pack
        append, append_time, tags = parts.append, times.append, self.tags
        for sample in samples:
            info = tags.get(sample.tag)
            if info is None:
                self._reject(sample, "unknown tag")
                continue
            moment = sample.time
            if type(moment) is datetime and moment.tzinfo is not None:
                t_us = round(moment.timestamp() * 1_000_000)
            else:
                try:
                    t_us = unix_us(moment)
                except (AttributeError, TypeError, ValueError, OverflowError):
                    self._reject(sample, "time is not a datetime")
                    continue
            if t_us > high_us:
                self._reject(sample, f"time more than {self.max_future_s:g} s in the future")
                continue
            if t_us < low_us:
                self._reject(sample, "time older than the retention window")
                continue
            value, status, received = sample.value, sample.status, sample.received
            if type(value) is int and not info.text:
                value = float(value)
            if (
                type(value) is float and value - value == 0.0  # finite
                and sample.text is None and sample.server_time is None and not info.text
                and type(status) is int and 0 <= status <= 0xFFFFFFFF
            ):  # fmt: skip
                if received is None:
                    append(pack_plain(7, 8, t_us - PG_EPOCH_US, 4, info.tag_id, 8, value, -1, 8, status, -1, -1))
                elif type(received) is datetime and received.tzinfo is not None:
                    received_us = round(received.timestamp() * 1_000_000)
                    append(pack_received(7, 8, t_us - PG_EPOCH_US, 4, info.tag_id, 8, value, -1, 8, status, -1, 8,
                                         received_us - PG_EPOCH_US))  # fmt: skip
                else:
                    append(self._row(sample, info, t_us))
            else:
                append(self._row(sample, info, t_us))
            append_time(t_us)
        if not parts:
            return None
        return EncodedBatch(b"".join(parts), len(parts), min(times), max(times), times)

    # ------------------------------------------------------------------ one row

    def _row(self, sample: Sample, info: TagInfo, t_us: int) -> bytes:
        value, text, status = self._value_text_status(sample, info)
        text_bytes = text.encode() if text is not None else None
        server_us = _optional_us(sample.server_time)
        received_us = _optional_us(sample.received)
        key = (value is not None, -1 if text_bytes is None else len(text_bytes), server_us is not None,
               received_us is not None)  # fmt: skip
        packer = self._structs.get(key) or self._compile(key)
        args: list[object] = [7, 8, t_us - PG_EPOCH_US, 4, info.tag_id]
        args += [8, value] if value is not None else [_NULL]
        args += [len(text_bytes), text_bytes] if text_bytes is not None else [_NULL]
        args += [8, status]
        args += [8, server_us - PG_EPOCH_US] if server_us is not None else [_NULL]
        args += [8, received_us - PG_EPOCH_US] if received_us is not None else [_NULL]
        return packer.pack(*args)

    def _compile(self, key: tuple[bool, int, bool, bool]) -> struct.Struct:
        has_value, text_len, has_server, has_received = key
        fmt = "!hiqii"  # ncols, time, tag_id
        fmt += "id" if has_value else "i"
        fmt += f"i{text_len}s" if text_len >= 0 else "i"
        fmt += "iq"  # status
        fmt += "iq" if has_server else "i"
        fmt += "iq" if has_received else "i"
        packer = self._structs[key] = struct.Struct(fmt)
        return packer

    def _value_text_status(self, sample: Sample, info: TagInfo) -> tuple[float | None, str | None, int]:
        value, text, status = sample.value, sample.text, int(sample.status) & 0xFFFFFFFF
        if value is None:
            return None, text, status
        if isinstance(value, str):
            if info.numeric:
                self._flag(sample, "string for a numeric tag")
                return None, value, status if is_bad(status) else BAD_TYPE_MISMATCH
            return None, value, status
        if info.text:
            return None, text if text is not None else str(value), status
        try:
            number = float(value)
        except (TypeError, ValueError):
            self._flag(sample, f"value of type {type(value).__name__} is not a number")
            return None, text if text is not None else repr(value), status if is_bad(status) else BAD_TYPE_MISMATCH
        if math.isnan(number) or math.isinf(number):
            self._flag(sample, "NaN or infinity")
            return None, text if text is not None else str(number), status if is_bad(status) else BAD_OUT_OF_RANGE
        return number, text, status

    # ------------------------------------------------------------------ reasons

    def _reject(self, sample: Sample, reason: str) -> None:
        self.validation.rejected[reason] += 1
        self._log("rejected", sample, reason)

    def _flag(self, sample: Sample, reason: str) -> None:
        self.validation.flagged[reason] += 1
        self._log("stored flagged", sample, reason)

    def _log(self, what: str, sample: Sample, reason: str) -> None:
        # Once per tag and reason: a broken device must not flood the log; metrics keep counting.
        key = (str(sample.tag), reason)
        if key in self._logged:
            return
        if len(self._logged) < 10_000:
            self._logged.add(key)
        log.warning("sample %s: %s (tag %s, time %r, value %r); further ones are only counted",
                    what, reason, sample.tag, sample.time, sample.value)  # fmt: skip


def _optional_us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    try:
        return unix_us(moment)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None
