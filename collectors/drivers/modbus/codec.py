"""Register codec: Modbus registers ⇄ tag values, for every type and byte order seen in the field.

pymodbus's own conversion lacks int8 halves, float16, BCD, byte-per-register
strings and two of the four byte orders, so we own this.

Byte orders name the bytes of the big-endian value, A the most significant:
ABCD is plain big-endian (the Modbus default), DCBA reverses all bytes, BADC
swaps the bytes inside each 16-bit register, CDAB swaps the registers (low word
first). A 16-bit value has only two orders: ABCD/CDAB read it as sent, DCBA/BADC
swap its two bytes. 64-bit values follow the same rule (CDAB: registers in
reverse order). The 8-bit types take the high or low byte of the register after
that swap; strings swap the two characters of each register under DCBA/BADC.

Reads are hot (tens of thousands of tags a second), so a request's tags are
compiled once into a :class:`BlockDecoder`: the register block is packed to
bytes once, and each byte order's tags are unpacked by one precompiled
``struct.Struct`` (padding bytes skip the gaps). The trick: the four orders are
the two struct endiannesses applied to the block packed either big-endian or
with each register byte-swapped. Only tags that need more (bits, BCD, strings,
scale/offset, engineering range) get a per-tag step after that.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from collectors.config.models import ByteOrder, DataType, Tag

# data type -> (struct code, registers)
NUMERIC_LAYOUT: dict[DataType, tuple[str, int]] = {
    DataType.int16: ("h", 1),
    DataType.uint16: ("H", 1),
    DataType.int32: ("i", 2),
    DataType.uint32: ("I", 2),
    DataType.int64: ("q", 4),
    DataType.uint64: ("Q", 4),
    DataType.float16: ("e", 1),
    DataType.float32: ("f", 2),
    DataType.float64: ("d", 4),
    DataType.bcd16: ("H", 1),
    DataType.bcd32: ("I", 2),
    DataType.bit: ("H", 1),
    DataType.bool: ("H", 1),  # a bool in a register: any non-zero value is true
}
EIGHT_BIT = {
    DataType.int8_high: ("b", 0),
    DataType.int8_low: ("b", 1),
    DataType.uint8_high: ("B", 0),
    DataType.uint8_low: ("B", 1),
}
STRING_TYPES = (DataType.string, DataType.string_bytewise)
FLOAT_TYPES = {DataType.float16, DataType.float32, DataType.float64}

# Byte orders that swap the bytes inside each register, and those that read right to left.
SWAPS_BYTES = {ByteOrder.DCBA, ByteOrder.BADC}
_ENDIAN_AND_SOURCE = {
    ByteOrder.ABCD: (">", "be"),
    ByteOrder.DCBA: ("<", "be"),
    ByteOrder.BADC: (">", "le"),
    ByteOrder.CDAB: ("<", "le"),
}


class DecodeError(ValueError):
    """The registers hold no valid value of the tag's type (e.g. a BCD nibble above 9)."""


def register_type(tag: Tag) -> DataType:
    """The tag's data type with ``auto`` resolved (bool for bit tables, uint16 for registers)."""
    if tag.table is not None and tag.table.is_bit:
        return DataType.bool
    return DataType.uint16 if tag.data_type is DataType.auto else tag.data_type


def _endian(order: ByteOrder, registers: int) -> tuple[str, str]:
    if registers == 1:
        # A single register has two orders only: as sent, or bytes swapped.
        return ("<", "be") if order in SWAPS_BYTES else (">", "be")
    return _ENDIAN_AND_SOURCE[order]


# ---------------------------------------------------------------------------- per-tag steps


def bcd_to_int(raw: int, digits: int) -> int:
    value = 0
    for shift in range(4 * (digits - 1), -1, -4):
        nibble = (raw >> shift) & 0xF
        if nibble > 9:
            raise DecodeError(f"0x{raw:0{digits}X} is not BCD (nibble {nibble:X})")
        value = value * 10 + nibble
    return value


def int_to_bcd(value: int, digits: int) -> int:
    if not 0 <= value < 10**digits:
        raise ValueError(f"{value} does not fit {digits} BCD digits")
    raw = 0
    for shift, char in enumerate(reversed(f"{value:0{digits}d}")):
        raw |= int(char) << (4 * shift)
    return raw


def _string_bytes(tag: Tag, location: str) -> Callable[[bytes, bytes, int], bytes]:
    """A function cutting a tag's characters out of the packed block (big-endian, byte-swapped, start)."""
    count = tag.length or 1
    swapped = tag.byte_order in SWAPS_BYTES
    per_register = "both"
    if tag.data_type is DataType.string_bytewise:
        per_register = "upper" if location == "upper" else "lower"
    elif location in ("lower", "upper"):
        per_register = location

    def cut(be: bytes, le: bytes, start: int) -> bytes:
        block = (le if swapped else be)[start : start + 2 * count]
        if per_register == "both":
            return block
        return block[1::2] if per_register == "lower" else block[0::2]

    return cut


def _text(data: bytes) -> str:
    return data.decode("latin-1").rstrip("\x00")


# ---------------------------------------------------------------------------- block decoder


@dataclass(slots=True)
class _Field:
    position: int  # index in the decoder's output order
    offset: int  # byte offset in the block
    code: str
    size: int


class BlockDecoder:
    """Decodes one request's answer into its tags' values, compiled once per request.

    ``tags`` are the request's tags, ``start`` its first address. ``tags`` (the
    attribute) lists them in output order, which is not the input order: the
    values of each struct layer come out in one piece, so there is no per-tag
    shuffle.
    """

    def __init__(self, start: int, count: int, tags: Sequence[Tag], *, string_register_location: str = "both") -> None:
        self.start = start
        self.count = count
        self.is_bit = bool(tags) and tags[0].table is not None and tags[0].table.is_bit
        self._layers: list[tuple[struct.Struct, bool]] = []  # (struct, from the byte-swapped block)
        self._strings: list[tuple[Callable[[bytes, bytes, int], bytes], int]] = []
        self._steps: list[tuple[int, Callable[[Any], Any]]] = []
        self._ranges: list[tuple[int, float, float]] = []
        self._pack_be = struct.Struct(f">{count}H")
        self._pack_le = struct.Struct(f"<{count}H")
        self.needs_le = False
        ordered: list[Tag] = []
        if self.is_bit:
            ordered = list(tags)
            offsets = [t.address - start for t in ordered]  # type: ignore[operator]
            self._bits = itemgetter(*offsets) if len(offsets) > 1 else (lambda bits, o=offsets[0]: (bits[o],))
        else:
            ordered = self._compile_registers(tags, string_register_location)
        self.tags: tuple[Tag, ...] = tuple(ordered)
        self.names: tuple[str, ...] = tuple(t.name for t in ordered)
        for position, tag in enumerate(self.tags):
            if tag.range is not None:
                self._ranges.append((position, tag.range[0], tag.range[1]))

    def _compile_registers(self, tags: Sequence[Tag], location: str) -> list[Tag]:
        # layers[(endian, source)] -> list of field lists; a field joins the first layer it does not overlap.
        layers: dict[tuple[str, str], list[list[tuple[_Field, Tag]]]] = {}
        strings: list[Tag] = []
        for tag in sorted(tags, key=lambda t: (t.address, t.register_count)):
            data_type = register_type(tag)
            offset = 2 * (tag.address - self.start)  # type: ignore[operator]
            if data_type in STRING_TYPES:
                strings.append(tag)
                continue
            if data_type in EIGHT_BIT:
                code, byte = EIGHT_BIT[data_type]
                if tag.byte_order in SWAPS_BYTES:
                    byte = 1 - byte
                key, field = (">", "be"), _Field(0, offset + byte, code, 1)
            else:
                code, registers = NUMERIC_LAYOUT[data_type]
                key, field = _endian(tag.byte_order, registers), _Field(0, offset, code, 2 * registers)
            stacks = layers.setdefault(key, [])
            for stack in stacks:
                last = stack[-1][0]
                if last.offset + last.size <= field.offset:
                    stack.append((field, tag))
                    break
            else:
                stacks.append([(field, tag)])
        ordered: list[Tag] = []
        for (endian, source), stacks in layers.items():
            for stack in stacks:
                fmt, cursor = [endian], 0
                for field, tag in stack:
                    if field.offset > cursor:
                        fmt.append(f"{field.offset - cursor}x")
                    fmt.append(field.code)
                    cursor = field.offset + field.size
                    self._add_steps(len(ordered), tag)
                    ordered.append(tag)
                self._layers.append((struct.Struct("".join(fmt)), source == "le"))
                self.needs_le = self.needs_le or source == "le"
        for tag in strings:
            cut = _string_bytes(tag, location)
            self._strings.append((cut, 2 * (tag.address - self.start)))  # type: ignore[operator]
            self.needs_le = self.needs_le or tag.byte_order in SWAPS_BYTES
            ordered.append(tag)
        return ordered

    def _add_steps(self, position: int, tag: Tag) -> None:
        data_type = register_type(tag)
        step: Callable[[Any], Any] | None = None
        if data_type is DataType.bit:
            bit = tag.bit or 0
            step = lambda raw, bit=bit: bool((raw >> bit) & 1)  # noqa: E731
        elif data_type is DataType.bool:
            step = bool
        elif data_type is DataType.bcd16:
            step = lambda raw: bcd_to_int(raw, 4)  # noqa: E731
        elif data_type is DataType.bcd32:
            step = lambda raw: bcd_to_int(raw, 8)  # noqa: E731
        if tag.scale != 1.0 or tag.offset != 0.0:
            scale, offset, inner = tag.scale, tag.offset, step
            if inner is None:
                step = lambda raw, s=scale, o=offset: raw * s + o  # noqa: E731
            else:
                step = lambda raw, s=scale, o=offset, f=inner: f(raw) * s + o  # noqa: E731
        if step is not None:
            self._steps.append((position, step))

    def decode(self, data: bytes | Sequence[int] | Sequence[bool]) -> tuple[list[Any], list[int] | None]:
        """Values in :attr:`names` order, and per-tag problems (None when there are none).

        ``data`` is the register block as big-endian bytes (as on the wire) or as
        register values, or the bits of a bit table.

        ``problems`` holds 0 for fine, 1 for out of the engineering range, 2 for
        undecodable, by position; the driver maps them to quality.
        """
        if self.is_bit:
            return list(self._bits(data)), None
        if isinstance(data, bytes):
            be = data if len(data) == self._pack_be.size else data[: self._pack_be.size]
            le = self._pack_le.pack(*self._pack_be.unpack(be)) if self.needs_le else be
        else:
            be = self._pack_be.pack(*data)
            le = self._pack_le.pack(*data) if self.needs_le else be
        values: list[Any] = []
        for layer, from_le in self._layers:
            values.extend(layer.unpack_from(le if from_le else be))
        for cut, start in self._strings:
            values.append(_text(cut(be, le, start)))
        problems: list[int] | None = None
        for position, step in self._steps:
            try:
                values[position] = step(values[position])
            except (DecodeError, ArithmeticError):
                values[position] = None
                problems = problems or [0] * len(values)
                problems[position] = 2
        for position, low, high in self._ranges:
            value = values[position]
            if value is not None and not (low <= value <= high):
                problems = problems or [0] * len(values)
                problems[position] = problems[position] or 1
        return values, problems


# ---------------------------------------------------------------------------- single values, writes


def decode_value(tag: Tag, registers: Sequence[int], *, string_register_location: str = "both") -> Any:
    """The value of one tag from its own registers (or bits) starting at its address."""
    decoder = BlockDecoder(tag.address or 0, len(registers), [tag], string_register_location=string_register_location)
    values, problems = decoder.decode(registers)
    if problems and problems[0] == 2:
        raise DecodeError(f"registers {list(registers)} hold no valid {tag.data_type.value}")
    return values[0]


def _to_wire(big_endian: bytes, order: ByteOrder) -> list[int]:
    """Big-endian value bytes → registers in the device's byte order."""
    data = big_endian
    if len(data) == 2:
        if order in SWAPS_BYTES:
            data = data[::-1]
    elif order is ByteOrder.DCBA:
        data = data[::-1]
    elif order is ByteOrder.BADC:
        data = b"".join(data[i : i + 2][::-1] for i in range(0, len(data), 2))
    elif order is ByteOrder.CDAB:
        data = b"".join(data[i : i + 2] for i in range(len(data) - 2, -1, -2))
    return list(struct.unpack(f">{len(data) // 2}H", data))


def _raw_number(tag: Tag, value: Any, data_type: DataType) -> float | int:
    """Engineering value → the raw number stored in the device (scale/offset undone)."""
    number = value
    if tag.scale != 1.0 or tag.offset != 0.0:
        number = (float(value) - tag.offset) / tag.scale
    if data_type in FLOAT_TYPES:
        return float(number)
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{value!r} cannot be written to integer tag {tag.name}")
        number = round(number)
    return int(number)


def encode_value(tag: Tag, value: Any, *, current: int = 0, string_register_location: str = "both") -> list[int]:
    """Registers that hold ``value`` for ``tag`` (the inverse of :func:`decode_value`).

    Types that share a register with other data (``bit``, 8-bit halves) are merged
    into ``current``, the register's present content. Raises ValueError when the
    value does not fit the type.
    """
    data_type = register_type(tag)
    if data_type in STRING_TYPES:
        return _encode_string(tag, str(value), string_register_location)
    if data_type is DataType.bit:
        mask = 1 << (tag.bit or 0)
        raw = (current | mask) if value else (current & ~mask & 0xFFFF)
        return [raw]
    if data_type is DataType.bool:
        return [1 if value else 0]
    if data_type in EIGHT_BIT:
        code, byte = EIGHT_BIT[data_type]
        number = _raw_number(tag, value, data_type)
        try:
            packed = struct.pack("B", struct.pack(code, number)[0])[0]
        except struct.error as exc:
            raise ValueError(f"{value!r} does not fit {data_type.value} (tag {tag.name})") from exc
        swapped = tag.byte_order in SWAPS_BYTES
        high = (byte == 0) != swapped
        return [((packed << 8) | (current & 0xFF)) if high else ((current & 0xFF00) | packed)]
    code, _registers = NUMERIC_LAYOUT[data_type]
    number = _raw_number(tag, value, data_type)
    if data_type is DataType.bcd16:
        number = int_to_bcd(int(number), 4)
    elif data_type is DataType.bcd32:
        number = int_to_bcd(int(number), 8)
    try:
        big_endian = struct.pack(">" + code, number)
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"{value!r} does not fit {data_type.value} (tag {tag.name})") from exc
    return _to_wire(big_endian, tag.byte_order)


def _encode_string(tag: Tag, text: str, location: str) -> list[int]:
    count = tag.length or 1
    data = text.encode("latin-1")
    per_register = "both"
    if tag.data_type is DataType.string_bytewise:
        per_register = "upper" if location == "upper" else "lower"
    elif location in ("lower", "upper"):
        per_register = location
    capacity = 2 * count if per_register == "both" else count
    if len(data) > capacity:
        raise ValueError(f"{len(data)} characters do not fit tag {tag.name} ({capacity} at most)")
    data = data.ljust(capacity, b"\x00")
    if per_register == "both":
        block = data
    else:
        block = b"".join(bytes((0, c)) if per_register == "lower" else bytes((c, 0)) for c in data)
    if tag.byte_order in SWAPS_BYTES:
        block = b"".join(block[i : i + 2][::-1] for i in range(0, len(block), 2))
    return list(struct.unpack(f">{count}H", block))


