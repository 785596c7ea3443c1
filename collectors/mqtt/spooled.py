"""Reading spooled binary COPY rows back into samples (the edge node publishes what it spooled)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from collectors.samples import Sample

_INT16, _INT32, _INT64, _DOUBLE = struct.Struct("!h"), struct.Struct("!i"), struct.Struct("!q"), struct.Struct("!d")


_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _time(raw: bytes) -> datetime:
    return _PG_EPOCH + timedelta(microseconds=_INT64.unpack(raw)[0])


def spooled_samples(payload: bytes) -> list[tuple[int, Sample]]:
    """(tag id, sample) of every row; the edge node's spool keeps the metric alias as the tag id."""
    rows: list[tuple[int, Sample]] = []
    offset, end = 0, len(payload)
    while offset < end:
        (columns,) = _INT16.unpack_from(payload, offset)
        offset += 2
        fields: list[bytes | None] = []
        for _ in range(columns):
            (length,) = _INT32.unpack_from(payload, offset)
            offset += 4
            if length < 0:
                fields.append(None)
                continue
            fields.append(payload[offset : offset + length])
            offset += length
        fields += [None] * (9 - len(fields))  # rows spooled by earlier versions have 7 or 8 columns
        moment, tag_id, value, text, status, _server, received, source, delay_ms = fields[:9]
        assert moment is not None and tag_id is not None and status is not None  # NOT NULL columns
        sample_value: float | str | None = _DOUBLE.unpack(value)[0] if value is not None else None
        if sample_value is None and text is not None:
            sample_value = text.decode()
        at = _time(moment)
        if received is not None:
            received_at: datetime | None = _time(received)
        elif delay_ms is not None:  # the store's receive delay (collectors/store/rows.py)
            received_at = at + timedelta(milliseconds=_INT32.unpack(delay_ms)[0])
        else:
            received_at = None
        rows.append((_INT32.unpack(tag_id)[0], Sample(
            tag="", time=at, value=sample_value, status=_INT64.unpack(status)[0], received=received_at,
            source_time=_time(source) if source is not None else None,
        )))  # fmt: skip
    return rows
