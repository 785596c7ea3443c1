"""Register encoding of point values, as field devices lay them out.

Byte order letters name the bytes of the big-endian value, A the most
significant: ABCD is plain big-endian (Modbus default), CDAB swaps the 16-bit
words (common on PLCs that store 32-bit values low word first), BADC swaps the
bytes inside each word, DCBA reverses all bytes. Scaled fixed-point values are
stored as raw integers with engineering = raw × scale + offset.
"""

from __future__ import annotations

import math
import struct

from collectors.config.models import ByteOrder, DataType
from simulator.points import ModbusLocation, Value

_STRUCT = {
    DataType.int16: ">h",
    DataType.uint16: ">H",
    DataType.int32: ">i",
    DataType.uint32: ">I",
    DataType.float32: ">f",
}
_INTEGER_RANGE = {
    DataType.int16: (-(1 << 15), (1 << 15) - 1),
    DataType.uint16: (0, (1 << 16) - 1),
    DataType.int32: (-(1 << 31), (1 << 31) - 1),
    DataType.uint32: (0, (1 << 32) - 1),
}


def _order(data: bytes, order: ByteOrder) -> bytes:
    """Reorder big-endian bytes into the device's order (the operation is its own inverse)."""
    if order is ByteOrder.ABCD or len(data) < 2:
        return data
    if order is ByteOrder.DCBA:
        return data[::-1]
    words = [data[i : i + 2] for i in range(0, len(data), 2)]
    if order is ByteOrder.BADC:
        return b"".join(w[::-1] for w in words)
    return b"".join(reversed(words))  # CDAB


def to_raw(value: Value, loc: ModbusLocation) -> float | int:
    """Engineering value → the raw number stored (scale/offset undone, integers clamped)."""
    number = float(value) if not isinstance(value, str) else 0.0
    if loc.scale != 1.0 or loc.offset != 0.0:
        number = (number - loc.offset) / loc.scale
    if loc.data_type is DataType.float32:
        return number
    low, high = _INTEGER_RANGE[loc.data_type]
    exact = isinstance(value, int) and loc.scale == 1.0 and loc.offset == 0.0
    raw = int(value) if exact else math.floor(number + 0.5)
    return min(max(raw, low), high)


def encode(value: Value, loc: ModbusLocation) -> list[int]:
    """The registers holding ``value`` at ``loc`` (not for bit points)."""
    if loc.data_type in (DataType.string, DataType.string_bytewise):
        return encode_string(str(value), loc.length or 1, loc.data_type is DataType.string_bytewise)
    data = struct.pack(_STRUCT[loc.data_type], to_raw(value, loc))
    data = _order(data, loc.byte_order)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def decode(registers: list[int], loc: ModbusLocation) -> Value:
    """The engineering value of registers written by a client (inverse of :func:`encode`)."""
    if loc.data_type in (DataType.string, DataType.string_bytewise):
        if loc.data_type is DataType.string_bytewise:
            data = bytes(r & 0xFF for r in registers)
        else:
            data = b"".join(r.to_bytes(2, "big") for r in registers)
        return data.split(b"\0", 1)[0].decode("ascii", "replace")
    data = _order(b"".join(r.to_bytes(2, "big") for r in registers), loc.byte_order)
    raw = struct.unpack(_STRUCT[loc.data_type], data)[0]
    if loc.scale != 1.0 or loc.offset != 0.0:
        return raw * loc.scale + loc.offset
    return raw


def encode_string(text: str, registers: int, bytewise: bool = False) -> list[int]:
    """ASCII, two characters per register (high byte first), NUL padded; or one per register."""
    data = text.encode("ascii", "replace")
    if bytewise:
        data = data[:registers].ljust(registers, b"\0")
        return list(data)
    data = data[: registers * 2].ljust(registers * 2, b"\0")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
