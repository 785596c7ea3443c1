"""A lean decoder for Publish responses: data changes straight to plain tuples.

Profiling 10k-tag subscriptions showed three quarters of the client's CPU in
asyncua's generic decoder (a Variant, a StatusCode and a DataValue object per
notification, a Buffer call per field). The driver only needs, per monitored
item, the client handle, the value, the status code and the two timestamps, so
this module reads DataChangeNotifications with ``struct.unpack_from`` into
``(handle, value, status, source_time, server_time)`` tuples.

Everything else is handed to asyncua's own decoder at the same offset: other
notification types, arrays, structures, unusual built-in types, picoseconds.
If anything at all goes wrong, the whole response is decoded by asyncua, so the
worst case is the old speed, never a wrong value. The override is installed on
one session object only (:func:`install`), not on asyncua globally.
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import (
    extensionobject_from_binary,
    nodeid_from_binary,
    struct_from_binary,
    variant_from_binary,
)
from asyncua.ua.uatypes import FILETIME_EPOCH_AS_UTC_DATETIME, win_epoch_to_datetime

_I32 = struct.Struct("<i").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I64 = struct.Struct("<q").unpack_from
_DATA_CHANGE = ua.NodeId(ua.Int32(ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary))
_MAX_FILETIME = 2650467743990000000  # 9999-12-31, beyond it asyncua clamps; so do we (via asyncua)

# Built-in scalar types read in place: type id → (struct, size).
_FIXED: dict[int, tuple[struct.Struct, int]] = {
    1: (struct.Struct("<?"), 1),  # Boolean
    2: (struct.Struct("<b"), 1),  # SByte
    3: (struct.Struct("<B"), 1),  # Byte
    4: (struct.Struct("<h"), 2),  # Int16
    5: (struct.Struct("<H"), 2),  # UInt16
    6: (struct.Struct("<i"), 4),  # Int32
    7: (struct.Struct("<I"), 4),  # UInt32
    8: (struct.Struct("<q"), 8),  # Int64
    9: (struct.Struct("<Q"), 8),  # UInt64
    10: (struct.Struct("<f"), 4),  # Float
    11: (struct.Struct("<d"), 8),  # Double
}
_FIXED_UNPACK = {type_id: (fmt.unpack_from, size) for type_id, (fmt, size) in _FIXED.items()}

Change = tuple[int, object, int, datetime | None, datetime | None]


class FastDataChange:
    """A DataChangeNotification as tuples ``(handle, value, status, source_time, server_time)``."""

    __slots__ = ("changes",)

    def __init__(self, changes: list[Change]) -> None:
        self.changes = changes


class _Fallback(Exception):
    """This response takes asyncua's decoder."""


class _Times:
    """FILETIME → datetime, remembering the last few: one publish often shares its timestamps."""

    __slots__ = ("cache",)

    def __init__(self) -> None:
        self.cache: dict[int, datetime | None] = {}

    def __call__(self, raw: int) -> datetime | None:
        found = self.cache.get(raw, False)
        if found is not False:
            return found  # type: ignore[return-value]
        if raw <= 0:
            when = None
        elif raw >= _MAX_FILETIME:
            when = win_epoch_to_datetime(raw)
        else:
            when = FILETIME_EPOCH_AS_UTC_DATETIME + timedelta(microseconds=raw // 10)
        if len(self.cache) > 64:
            self.cache.clear()
        self.cache[raw] = when
        return when


def decode_publish_response(data: Buffer) -> ua.PublishResponse:
    """The PublishResponse in ``data``, with DataChangeNotifications as :class:`FastDataChange`."""
    raw = bytes(data)
    try:
        return _decode(raw)
    except Exception:  # any surprise: the reference decoder reads the same bytes
        return struct_from_binary(ua.PublishResponse, Buffer(raw))


def _decode(raw: bytes) -> ua.PublishResponse:
    buf = Buffer(raw)
    nodeid_from_binary(buf)  # the response's type id
    header = struct_from_binary(ua.ResponseHeader, buf)
    pos = buf.cur_pos
    (subscription_id,) = _U32(raw, pos)
    (count,) = _I32(raw, pos + 4)
    pos += 8
    available = list(struct.unpack_from(f"<{count}I", raw, pos)) if count > 0 else []
    pos += 4 * max(count, 0)
    more = raw[pos] != 0
    (sequence,) = _U32(raw, pos + 1)
    (publish_time,) = _I64(raw, pos + 5)
    (count,) = _I32(raw, pos + 13)
    pos += 17
    times = _Times()
    notifications: list[object] = []
    for _ in range(max(count, 0)):
        start = pos
        buf = Buffer(raw, pos)
        type_id = nodeid_from_binary(buf)
        pos = buf.cur_pos
        if type_id == _DATA_CHANGE and raw[pos] == 1:
            (length,) = _I32(raw, pos + 1)
            body = pos + 5
            notifications.append(FastDataChange(_data_changes(raw, body, times)))
            pos = body + length
        else:
            buf = Buffer(raw, start)
            notifications.append(extensionobject_from_binary(buf))
            pos = buf.cur_pos
    (count,) = _I32(raw, pos)
    pos += 4
    results = [ua.StatusCode(code) for code in struct.unpack_from(f"<{count}I", raw, pos)] if count > 0 else []
    pos += 4 * max(count, 0)
    (diagnostics,) = _I32(raw, pos)
    if diagnostics > 0:
        raise _Fallback("diagnostic infos")
    message = ua.NotificationMessage(SequenceNumber=sequence, PublishTime=times(publish_time),
                                     NotificationData=notifications)
    result = ua.PublishResult(SubscriptionId=subscription_id, AvailableSequenceNumbers=available,
                              MoreNotifications=more, NotificationMessage=message, Results=results)
    return ua.PublishResponse(ResponseHeader=header, Parameters=result)


def _data_changes(raw: bytes, pos: int, times: _Times) -> list[Change]:
    (count,) = _I32(raw, pos)
    pos += 4
    changes: list[Change] = []
    append = changes.append
    fixed = _FIXED_UNPACK
    for _ in range(count):
        (handle,) = _U32(raw, pos)
        mask = raw[pos + 4]
        pos += 5
        if mask & 0x30:
            raise _Fallback("picoseconds")  # asyncua's field order for them differs from the spec's
        value = None
        status = 0
        source = server = None
        if mask & 0x01:
            encoding = raw[pos]
            type_id = encoding & 0x3F
            reader = fixed.get(type_id)
            if reader is not None and not encoding & 0xC0:
                (value,) = reader[0](raw, pos + 1)
                pos += 1 + reader[1]
            elif type_id == 12 and not encoding & 0xC0:  # String
                (length,) = _I32(raw, pos + 1)
                pos += 5
                if length >= 0:
                    value = raw[pos:pos + length].decode("utf-8")
                    pos += length
            elif type_id == 0 and not encoding & 0xC0:
                pos += 1
            else:
                buf = Buffer(raw, pos)
                value = variant_from_binary(buf).Value
                pos = buf.cur_pos
        if mask & 0x02:
            (status,) = _U32(raw, pos)
            pos += 4
        if mask & 0x04:
            source = times(_I64(raw, pos)[0])
            pos += 8
        if mask & 0x08:
            server = times(_I64(raw, pos)[0])
            pos += 8
        append((handle, value, status, source, server))
    (diagnostics,) = _I32(raw, pos)
    if diagnostics > 0:
        raise _Fallback("diagnostic infos")
    return changes


def install(session) -> None:
    """Make this asyncua ``UaSession`` decode its Publish responses with :func:`decode_publish_response`."""

    async def publish(acks: list[ua.SubscriptionAcknowledgement]) -> ua.PublishResponse:
        request = ua.PublishRequest()
        request.Parameters.SubscriptionAcknowledgements = acks if acks else []
        data = await session._send_request(request, timeout=0)
        return decode_publish_response(data)

    session.publish = publish
