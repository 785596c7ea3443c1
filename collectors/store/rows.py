"""Samples → PostgreSQL binary COPY rows, validated first.

Validation happens before anything reaches the spool or the database, so one bad
reading can never poison a batch (a COPY fails as a whole). Each sample ends up:

- stored as is;
- stored *flagged*: NaN, ±infinity or a magnitude above ``ABSURD_MAGNITUDE``
  (value NULL, the text kept in ``text_value``, status Bad_OutOfRange unless
  already bad: squares of such doubles overflow every aggregate); a Good value
  outside the tag's configured ``range`` (kept, status
  Uncertain_EngineeringUnitsExceeded, like the Modbus codec); a string for a
  numeric tag (value NULL, text kept, status Bad_TypeMismatch); a text with a
  NUL character (PostgreSQL text cannot hold one: replaced by U+FFFD) or not
  encodable as UTF-8 (replaced likewise), or longer than ``TEXT_LIMIT_CHARS``
  (truncated) — these three Uncertain unless already worse;
- *rejected* with a logged reason: a tag not in the config, a time outside the
  sane window (older than retention, or further in the future than
  ``max_future_s``), a time that is not a datetime.

The encoded bytes are exactly what ``COPY samples FROM STDIN (FORMAT BINARY)``
expects between its header and trailer, so the spool holds what will be sent
and a replay does no re-encoding.

When the collector received a sample is written as ``receive_delay_ms``, whole milliseconds after
the source time (collectors migration 0022: a second timestamp with network jitter cost 2.8 B of a
compressed sample's 6.2 B on TimescaleDB; the delay about 1 B), and ``received_time`` only when
the delay does not fit an integer (a buffer replayed weeks late). Readers take
``coalesce(received_time, time + receive_delay_ms * interval '1 millisecond')``.
"""

from __future__ import annotations

import logging
import math
import struct
import time as _time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.config.models import DataType, Plant, Tag
from collectors.samples import (
    BAD_OUT_OF_RANGE,
    BAD_TYPE_MISMATCH,
    UNCERTAIN,
    UNCERTAIN_ENGINEERING_UNITS_EXCEEDED,
    Sample,
    is_bad,
    is_good,
)

log = logging.getLogger("linebrain.store")

COLUMNS = "time, tag_id, value, text_value, status, server_time, received_time, source_time, receive_delay_ms"
COPY_SQL = f"COPY samples ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
# Batches spooled by earlier versions are still sendable: seven columns per row before migration 0005 (no
# source_time), eight before 0022 (received_time as a timestamp, no receive_delay_ms).
_COPY_SQL_OLD = {
    columns: f"COPY samples ({', '.join(COLUMNS.split(', ')[:columns])}) FROM STDIN (FORMAT BINARY)"
    for columns in (7, 8)
}
_NCOLS = 9
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
COPY_TRAILER = struct.pack("!h", -1)
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
_NULL = -1
# The receive delay is an int4 of milliseconds; a delay outside it keeps the exact received_time.
_DELAY_MIN_MS, _DELAY_MAX_MS = -(2**31), 2**31 - 1
_TEXT_TYPES = {DataType.string, DataType.string_bytewise}
# A double above this magnitude is no plant reading (1e150 squared still fits a double: sums of squares, as
# avg() and stddev() keep them, do not overflow); and text (or an array's text form) is kept up to this length.
ABSURD_MAGNITUDE = 1e150
_EXACT_INT = 2**53
TEXT_LIMIT_CHARS = 8192


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the store needs of a configured tag."""

    tag_id: int
    text: bool  # a string tag: the value goes to text_value
    numeric: bool  # a numeric tag: a string value is a type mismatch
    low: float = -ABSURD_MAGNITUDE  # a Good value outside [low, high] is flagged (the tag's range, if any)
    high: float = ABSURD_MAGNITUDE


def catalog(plant: Plant, tag_ids: dict[str, int]) -> dict[str, TagInfo]:
    """Name → TagInfo for every configured tag that has an id in the registry."""
    return {tag.name: _info(tag, tag_ids[tag.name]) for tag in plant.tags if tag.name in tag_ids}


def _info(tag: Tag, tag_id: int) -> TagInfo:
    text = tag.data_type in _TEXT_TYPES
    low, high = tag.range if tag.range else (-ABSURD_MAGNITUDE, ABSURD_MAGNITUDE)
    return TagInfo(tag_id=tag_id, text=text, numeric=not text and tag.data_type is not DataType.auto,
                   low=max(low, -ABSURD_MAGNITUDE), high=min(high, ABSURD_MAGNITUDE))  # fmt: skip


@dataclass
class EncodedBatch:
    """Rows ready for COPY, plus what the ledger and the latency figures need."""

    payload: bytes
    rows: int
    first_us: int  # Unix microseconds of the earliest / latest source time
    last_us: int
    times_us: array[int] = field(default_factory=lambda: array("q"))  # source times, for latency


@dataclass
class Validation:
    """Counts of what validation did to the samples it saw."""

    rejected: Counter[str] = field(default_factory=Counter)  # reason → samples
    flagged: Counter[str] = field(default_factory=Counter)


def unix_us(moment: datetime) -> int:
    """Exact Unix microseconds of a datetime; a naive one is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1_000_000)


def from_unix_us(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_ONE_MS = timedelta(milliseconds=1)
_HALF_MS = timedelta(microseconds=500)


def receive_delay_ms(delay_us: int) -> int | None:
    """Microseconds from source time to receipt as whole milliseconds (half a millisecond rounds up);
    None when that does not fit the column: the row then keeps the exact ``received_time``."""
    delay_ms = (delay_us + 500) // 1000
    return delay_ms if _DELAY_MIN_MS <= delay_ms <= _DELAY_MAX_MS else None


def _from_unix_us_exact(micros: int) -> datetime:
    return _UNIX_EPOCH + timedelta(microseconds=micros)


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
        self._structs: dict[tuple[bool, int, bool, bool, bool, bool], struct.Struct] = {}
        self._logged: set[tuple[str, str]] = set()
        self._fast = _FastRows.load(self)

    def encode(self, samples: list[Sample]) -> EncodedBatch | None:
        """Encode ``samples``; None when every one was rejected."""
        now_us = round(_time.time() * 1_000_000)
        low_us = now_us - round(self.max_age_s * 1_000_000)
        high_us = now_us + round(self.max_future_s * 1_000_000)
        # The same window as datetimes, exact to the microsecond: comparing two aware datetimes is
        # done in C and gives the same answer as comparing their Unix microseconds.
        low, high = _from_unix_us_exact(low_us), _from_unix_us_exact(high_us)
        out = bytearray()
        moments: list[datetime] = []  # source times of the fast rows, in row order
        slow_times = array("q")  # Unix µs of the rows that took the general path
        # This loop runs for every sample at hundreds of thousands per second: it does only the
        # checks, with everything it uses in locals, and hands the common reading (a finite number
        # on a UTC time, no text, no server time) to psycopg's C binary row formatter (see
        # _FastRows). Anything else falls through to the general path below, which checks and
        # encodes it exactly as always.
        fast = self._fast
        fast_row, tx = (fast.format_row, fast.transformer) if fast is not None else (None, None)
        append_moment, tags = moments.append, self.tags
        half_ms, one_ms, delay_min, delay_max = _HALF_MS, _ONE_MS, _DELAY_MIN_MS, _DELAY_MAX_MS
        for sample in samples:
            info = tags.get(sample.tag)
            moment = sample.time
            if (
                fast_row is not None and info is not None
                and type(moment) is datetime and moment.tzinfo is UTC and low <= moment <= high
            ):  # fmt: skip
                value, status, received = sample.value, sample.status, sample.received
                if type(value) is int and not info.text and -_EXACT_INT <= value <= _EXACT_INT:
                    value = float(value)  # a bigger int takes the general path (float() may overflow)
                if (
                    type(value) is float and info.low <= value <= info.high  # finite, sane, in range
                    and sample.text is None and sample.server_time is None and not info.text
                    and sample.source_time is None
                    and type(status) is int and 0 <= status <= 0xFFFFFFFF
                    and (received is None or (type(received) is datetime and received.tzinfo is UTC))
                ):  # fmt: skip
                    # The delay exactly as _row computes it, (µs + 500) // 1000, in C on timedeltas.
                    delay = None if received is None else (received - moment + half_ms) // one_ms
                    if delay is None or delay_min <= delay <= delay_max:
                        fast_row((moment, info.tag_id, value, None, status, None, None, None, delay), tx, out)
                        append_moment(moment)
                        continue
            t_us = self._checked_time(sample, info, low_us, high_us)
            if t_us is None or info is None:  # rejected (an unknown tag always is)
                continue
            out += self._row(sample, info, t_us)
            slow_times.append(t_us)
        # Unix µs of the fast rows, after the loop (cheaper than a conversion per row inside it).
        # The times only feed first/last and the latency histogram: their order does not matter.
        times = _fast_times(out, len(moments)) if not slow_times else None
        if times is None:
            times = array("q", [(moment - _UNIX_EPOCH) // _ONE_US for moment in moments])  # exact: no float
            times += slow_times
        if not times:
            return None
        return EncodedBatch(bytes(out), len(times), min(times), max(times), times)

    def _checked_time(self, sample: Sample, info: TagInfo | None, low_us: int, high_us: int) -> int | None:
        """The general path's checks: Unix µs of a storable sample, None when it is rejected."""
        if info is None:
            self._reject(sample, "unknown tag")
            return None
        moment = sample.time
        if type(moment) is datetime and moment.tzinfo is not None:
            t_us = round(moment.timestamp() * 1_000_000)
        else:
            try:
                t_us = unix_us(moment)
            except (AttributeError, TypeError, ValueError, OverflowError):
                self._reject(sample, "time is not a datetime")
                return None
        if t_us > high_us:
            self._reject(sample, f"time more than {self.max_future_s:g} s in the future")
            return None
        if t_us < low_us:
            self._reject(sample, "time older than the retention window")
            return None
        return t_us

    # ------------------------------------------------------------------ one row

    def _row(self, sample: Sample, info: TagInfo, t_us: int) -> bytes:
        value, text, status = self._value_text_status(sample, info)
        text_bytes = None
        if text is not None:
            text_bytes, status = self._text_bytes(sample, text, status)
        server_us = _optional_us(sample.server_time)
        received_us = _optional_us(sample.received)
        source_us = _optional_us(sample.source_time)
        delay_ms = receive_delay_ms(received_us - t_us) if received_us is not None else None
        if delay_ms is not None:
            received_us = None
        key = (value is not None, -1 if text_bytes is None else len(text_bytes), server_us is not None,
               received_us is not None, source_us is not None, delay_ms is not None)  # fmt: skip
        packer = self._structs.get(key) or self._compile(key)
        args: list[object] = [_NCOLS, 8, t_us - PG_EPOCH_US, 4, info.tag_id]
        args += [8, value] if value is not None else [_NULL]
        args += [len(text_bytes), text_bytes] if text_bytes is not None else [_NULL]
        args += [8, status]
        args += [8, server_us - PG_EPOCH_US] if server_us is not None else [_NULL]
        args += [8, received_us - PG_EPOCH_US] if received_us is not None else [_NULL]
        args += [8, source_us - PG_EPOCH_US] if source_us is not None else [_NULL]
        args += [4, delay_ms] if delay_ms is not None else [_NULL]
        return packer.pack(*args)

    def _compile(self, key: tuple[bool, int, bool, bool, bool, bool]) -> struct.Struct:
        has_value, text_len, has_server, has_received, has_source, has_delay = key
        fmt = "!hiqii"  # ncols, time, tag_id
        fmt += "id" if has_value else "i"
        fmt += f"i{text_len}s" if text_len >= 0 else "i"
        fmt += "iq"  # status
        fmt += "iq" if has_server else "i"
        fmt += "iq" if has_received else "i"
        fmt += "iq" if has_source else "i"
        fmt += "ii" if has_delay else "i"
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
        except (TypeError, ValueError, OverflowError):
            self._flag(sample, f"value of type {type(value).__name__} is not a number")
            return None, text if text is not None else repr(value), status if is_bad(status) else BAD_TYPE_MISMATCH
        if math.isnan(number) or math.isinf(number):
            self._flag(sample, "NaN or infinity")
            return None, text if text is not None else str(number), status if is_bad(status) else BAD_OUT_OF_RANGE
        if abs(number) > ABSURD_MAGNITUDE:
            self._flag(sample, f"magnitude above {ABSURD_MAGNITUDE:g}")
            return None, text if text is not None else repr(number), status if is_bad(status) else BAD_OUT_OF_RANGE
        if is_good(status) and not info.low <= number <= info.high:
            self._flag(sample, "outside the configured range")
            return number, text, UNCERTAIN_ENGINEERING_UNITS_EXCEEDED
        return number, text, status

    def _text_bytes(self, sample: Sample, text: str, status: int) -> tuple[bytes, int]:
        """UTF-8 that PostgreSQL accepts, at most ``TEXT_LIMIT_CHARS`` long; any repair makes a Good sample
        Uncertain (the text is not exactly what the device said)."""
        repaired = False
        if len(text) > TEXT_LIMIT_CHARS:
            self._flag(sample, f"text longer than {TEXT_LIMIT_CHARS} characters truncated")
            text, repaired = text[:TEXT_LIMIT_CHARS], True
        if "\x00" in text:
            self._flag(sample, "NUL character replaced")
            text, repaired = text.replace("\x00", "\ufffd"), True
        try:
            encoded = text.encode()
        except UnicodeEncodeError:  # a lone surrogate (e.g. from a lenient decoder)
            self._flag(sample, "text not valid Unicode, replaced")
            encoded, repaired = text.encode(errors="replace"), True
        return encoded, (UNCERTAIN if repaired and is_good(status) else status)

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


def copy_sql_for(payload: bytes) -> str:
    """The COPY statement for a payload, by its rows' column count (earlier versions spooled fewer columns)."""
    if len(payload) >= 2:
        return _COPY_SQL_OLD.get(struct.unpack_from("!h", payload)[0], COPY_SQL)
    return COPY_SQL


def split_rows(payload: bytes) -> list[bytes]:
    """The rows of a binary COPY payload (no header or trailer), each as its own bytes."""
    rows: list[bytes] = []
    offset, end = 0, len(payload)
    field_length = struct.Struct("!i")
    while offset < end:
        start = offset
        (columns,) = struct.unpack_from("!h", payload, offset)
        offset += 2
        for _ in range(columns):
            (length,) = field_length.unpack_from(payload, offset)
            offset += 4 + max(length, 0)
        rows.append(payload[start:offset])
    return rows


def _optional_us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    try:
        return unix_us(moment)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return None


FormatRow = Callable[[tuple[Any, ...], Any, bytearray], None]
"""psycopg's ``format_row_binary(row, transformer, out)``."""


class _FastRows:
    """psycopg's C binary row formatter, for the common reading.

    ``format_row_binary`` (from psycopg_binary, the formatter behind ``Copy.write_row``) dumps a
    row tuple (two datetimes, ints, a float, NULLs) in about 0.2 µs; the same row with
    ``struct.pack`` plus two datetime → µs conversions in Python costs about 0.55 µs. psycopg only
    offers it through a ``Copy`` on a live connection, and the encoder must work while the database
    is down (it spools), so it is used directly, with a context-free transformer. That is not
    public API: ``load`` checks, once per encoder, that it produces exactly the bytes of our own
    encoding (``RowEncoder._row``) and otherwise leaves it unused, so every row then takes the
    general path (slower, same bytes).
    """

    __slots__ = ("format_row", "transformer")

    def __init__(self, format_row: FormatRow, transformer: Any) -> None:
        self.format_row = format_row
        self.transformer = transformer

    @classmethod
    def load(cls, encoder: RowEncoder) -> _FastRows | None:
        try:
            from psycopg import postgres, pq
            from psycopg._cmodule import _psycopg  # the C extension; None with pure-Python psycopg
            from psycopg.adapt import Transformer

            if _psycopg is None:
                return None  # the pure-Python formatter is slower than struct.pack
            transformer = Transformer()
            transformer.set_dumper_types([postgres.types[name].oid for name in _COLUMN_TYPES], pq.Format.BINARY)
            fast = cls(_psycopg.format_row_binary, transformer)
            for sample, delay in _CHECK_SAMPLES:
                info = TagInfo(tag_id=123_456, text=False, numeric=True)
                out = bytearray()
                fast.format_row((sample.time, info.tag_id, sample.value, None, sample.status, None, None, None,
                                 delay), fast.transformer, out)  # fmt: skip
                if bytes(out) != encoder._row(sample, info, unix_us(sample.time)):
                    raise ValueError("psycopg's binary row differs from ours")
        except Exception as exc:  # an unexpected psycopg: stay correct, only slower
            log.warning("psycopg's C row formatter is not used (%s); encoding in Python", exc)
            return None
        return fast


# A fast row is 2 (column count) + 4 + 8 (time) + 4 + 4 (tag id) + 4 + 8 (value) + 4 (NULL text) + 4 + 8
# (status) + 4 (NULL server time) + 4 (NULL received time) + 4 (NULL source time) + 4 [+ 4] (receive delay or
# NULL) bytes; its time is at offset 6.
_ROW_TIMES = {70: struct.Struct("!6xq56x"), 66: struct.Struct("!6xq52x")}


def _fast_times(out: bytearray, rows: int) -> array[int] | None:
    """Unix µs of a batch of fast rows all with or all without a receive delay, read back from
    the encoded bytes in one C loop (half the cost of converting the datetimes); None otherwise
    (a mix of both averages strictly between the two sizes)."""
    layout = _ROW_TIMES.get(len(out) // rows) if rows and len(out) % rows == 0 else None
    if layout is None:
        return None
    return array("q", [pg_us + PG_EPOCH_US for (pg_us,) in layout.iter_unpack(out)])


_COLUMN_TYPES = ("timestamptz", "int4", "float8", "text", "int8", "timestamptz", "timestamptz", "timestamptz",
                 "int4")
_CHECK_SAMPLES = (  # (sample, its receive delay in ms)
    (Sample("check", datetime(2026, 3, 29, 1, 59, 59, 999_999, tzinfo=UTC), -1.25e-7, 0x80740000,
            received=datetime(2026, 3, 29, 2, 0, 0, 1, tzinfo=UTC)), 0),
    (Sample("check", datetime(1999, 12, 31, 23, 59, 59, 123_457, tzinfo=UTC), 0.0, 0), None),
    (Sample("check", datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC), -1e150, 0xFFFFFFFF,
            received=datetime(2038, 1, 19, 3, 14, 7, 500_000, tzinfo=UTC)), -500),
    (Sample("check", datetime(2026, 1, 1, tzinfo=UTC), 1.0, 0,
            received=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=_DELAY_MAX_MS)), _DELAY_MAX_MS),
)  # fmt: skip
