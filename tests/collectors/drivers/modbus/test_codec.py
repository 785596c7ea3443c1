"""Register codec: known wire layouts, and every type × byte order round-trips."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.config.models import ByteOrder, DataType, ModbusTable, Tag
from collectors.drivers.modbus.codec import BlockDecoder, DecodeError, decode_value, encode_value


def tag(data_type: DataType, order: ByteOrder = ByteOrder.ABCD, address: int = 0, **extra: object) -> Tag:
    return Tag(
        name=extra.pop("name", "t"), connection="c", table=ModbusTable.holding_register, address=address,
        data_type=data_type, byte_order=order, **extra,
    )


@pytest.mark.parametrize(
    ("order", "wire"),
    [
        (ByteOrder.ABCD, [0x3F80, 0x0000]),
        (ByteOrder.CDAB, [0x0000, 0x3F80]),
        (ByteOrder.BADC, [0x803F, 0x0000]),
        (ByteOrder.DCBA, [0x0000, 0x803F]),
    ],
)
def test_float32_one_in_each_byte_order(order: ByteOrder, wire: list[int]) -> None:
    assert encode_value(tag(DataType.float32, order), 1.0) == wire
    assert decode_value(tag(DataType.float32, order), wire) == 1.0


@pytest.mark.parametrize(
    ("order", "wire"),
    [
        (ByteOrder.ABCD, [0x0102, 0x0304, 0x0506, 0x0708]),
        (ByteOrder.CDAB, [0x0708, 0x0506, 0x0304, 0x0102]),
        (ByteOrder.BADC, [0x0201, 0x0403, 0x0605, 0x0807]),
        (ByteOrder.DCBA, [0x0807, 0x0605, 0x0403, 0x0201]),
    ],
)
def test_uint64_word_and_byte_orders(order: ByteOrder, wire: list[int]) -> None:
    assert decode_value(tag(DataType.uint64, order), wire) == 0x0102030405060708
    assert encode_value(tag(DataType.uint64, order), 0x0102030405060708) == wire


def test_sixteen_bit_values_swap_bytes_only_under_dcba_and_badc() -> None:
    for order, expected in ((ByteOrder.ABCD, 0x1234), (ByteOrder.CDAB, 0x1234),
                            (ByteOrder.BADC, 0x3412), (ByteOrder.DCBA, 0x3412)):
        assert decode_value(tag(DataType.uint16, order), [0x1234]) == expected


def test_bit_in_register_and_int8_halves() -> None:
    assert decode_value(tag(DataType.bit, bit=3), [0b1000]) is True
    assert decode_value(tag(DataType.bit, bit=2), [0b1000]) is False
    assert decode_value(tag(DataType.int8_high), [0xFF01]) == -1
    assert decode_value(tag(DataType.int8_low), [0xFF01]) == 1
    assert decode_value(tag(DataType.uint8_high), [0xFF01]) == 255
    assert decode_value(tag(DataType.uint8_low, ByteOrder.BADC), [0xFF01]) == 255


def test_bcd_and_its_invalid_nibbles() -> None:
    assert decode_value(tag(DataType.bcd16), [0x1234]) == 1234
    assert decode_value(tag(DataType.bcd32, ByteOrder.CDAB), [0x5678, 0x1234]) == 12345678
    with pytest.raises(DecodeError):
        decode_value(tag(DataType.bcd16), [0x12A4])


def test_fixed_point_scale_and_offset() -> None:
    temperature = tag(DataType.int16, scale=0.1, offset=-40.0)
    assert decode_value(temperature, [650]) == pytest.approx(25.0)
    assert encode_value(temperature, 25.0) == [650]


def test_strings_two_per_register_and_one_per_register() -> None:
    assert decode_value(tag(DataType.string, length=3), [0x4142, 0x4344, 0x4500]) == "ABCDE"
    assert decode_value(tag(DataType.string, ByteOrder.BADC, length=2), [0x4241, 0x4443]) == "ABCD"
    assert decode_value(tag(DataType.string_bytewise, length=3), [0x0041, 0x0042, 0x0043]) == "ABC"
    assert decode_value(tag(DataType.string, length=2), [0x0041, 0x0042], string_register_location="lower") == "AB"
    assert decode_value(tag(DataType.string, length=2), [0x4100, 0x4200], string_register_location="upper") == "AB"


def test_a_block_with_overlapping_tags_and_mixed_orders() -> None:
    tags = [
        tag(DataType.uint32, ByteOrder.ABCD, 0, name="whole"),
        tag(DataType.uint16, ByteOrder.ABCD, 1, name="low_word"),
        tag(DataType.bit, ByteOrder.ABCD, 1, name="bit0", bit=0),
        tag(DataType.float32, ByteOrder.CDAB, 4, name="flow"),
        tag(DataType.string, ByteOrder.ABCD, 6, name="text", length=1),
        tag(DataType.int16, ByteOrder.ABCD, 7, name="limited", range=(0, 10)),
    ]
    decoder = BlockDecoder(0, 8, tags)
    registers = [0x0001, 0x0003, 0, 0, *encode_value(tags[3], 2.5), 0x4F4B, 11]
    values, problems = decoder.decode(registers)
    got = dict(zip(decoder.names, values, strict=True))
    assert got == {"whole": 0x10003, "low_word": 3, "bit0": True, "flow": 2.5, "text": "OK", "limited": 11}
    assert problems is not None
    assert [decoder.names[i] for i, p in enumerate(problems) if p] == ["limited"]


def test_coils_decode_to_bools_at_their_offsets() -> None:
    coils = [Tag(name=f"c{a}", connection="c", table=ModbusTable.coil, address=a) for a in (10, 12, 13)]
    decoder = BlockDecoder(10, 4, coils)
    values, _ = decoder.decode([True, False, False, True, False, False, False, False])
    assert dict(zip(decoder.names, values, strict=True)) == {"c10": True, "c12": False, "c13": True}


INTEGER_BOUNDS = {
    DataType.int16: (-(2**15), 2**15 - 1),
    DataType.uint16: (0, 2**16 - 1),
    DataType.int32: (-(2**31), 2**31 - 1),
    DataType.uint32: (0, 2**32 - 1),
    DataType.int64: (-(2**63), 2**63 - 1),
    DataType.uint64: (0, 2**64 - 1),
    DataType.int8_high: (-128, 127),
    DataType.int8_low: (-128, 127),
    DataType.uint8_high: (0, 255),
    DataType.uint8_low: (0, 255),
    DataType.bcd16: (0, 9999),
    DataType.bcd32: (0, 99_999_999),
}
orders = st.sampled_from(list(ByteOrder))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(INTEGER_BOUNDS)), orders, st.data())
def test_integers_round_trip(data_type: DataType, order: ByteOrder, data: st.DataObject) -> None:
    low, high = INTEGER_BOUNDS[data_type]
    value = data.draw(st.integers(low, high))
    t = tag(data_type, order)
    assert decode_value(t, encode_value(t, value)) == value


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([DataType.float16, DataType.float32, DataType.float64]), orders, st.data())
def test_floats_round_trip(data_type: DataType, order: ByteOrder, data: st.DataObject) -> None:
    width = {DataType.float16: 16, DataType.float32: 32, DataType.float64: 64}[data_type]
    value = data.draw(st.floats(width=width, allow_nan=False))
    t = tag(data_type, order)
    assert decode_value(t, encode_value(t, value)) == value
    nan = decode_value(t, encode_value(t, math.nan))
    assert math.isnan(nan)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([DataType.string, DataType.string_bytewise]),
    orders,
    st.sampled_from(["both", "lower", "upper"]),
    st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=10),
)
def test_strings_round_trip(data_type: DataType, order: ByteOrder, location: str, text: str) -> None:
    t = tag(data_type, order, length=10)
    registers = encode_value(t, text, string_register_location=location)
    assert len(registers) == 10
    assert decode_value(t, registers, string_register_location=location) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 15), st.booleans(), st.integers(0, 0xFFFF))
def test_bit_writes_touch_only_their_bit(bit: int, value: bool, current: int) -> None:
    t = tag(DataType.bit, bit=bit)
    [register] = encode_value(t, value, current=current)
    assert decode_value(t, [register]) is value
    assert register & ~(1 << bit) == current & ~(1 << bit)


@settings(max_examples=200, deadline=None)
@given(st.integers(-30000, 30000), st.sampled_from([0.1, 0.01, 2.0]), st.sampled_from([0.0, -40.0, 273.15]))
def test_fixed_point_round_trips_on_its_grid(raw: int, scale: float, offset: float) -> None:
    t = tag(DataType.int16, scale=scale, offset=offset)
    value = raw * scale + offset
    assert encode_value(t, value) == list(struct.unpack(">H", struct.pack(">h", raw)))
    assert decode_value(t, encode_value(t, value)) == pytest.approx(value)


def test_values_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError):
        encode_value(tag(DataType.uint16), 70000)
    with pytest.raises(ValueError):
        encode_value(tag(DataType.int16), -40000)
    with pytest.raises(ValueError):
        encode_value(tag(DataType.string, length=1), "abc")


NUMERIC = [DataType.int16, DataType.uint16, DataType.int32, DataType.uint32, DataType.int64, DataType.uint64,
           DataType.float32, DataType.float64, DataType.bcd16, DataType.bcd32, DataType.uint8_low, DataType.int8_high]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NUMERIC), orders, st.integers(0, 3), st.integers(0, 2**64)),
                min_size=1, max_size=40),
       st.integers(0, 12), st.integers(8, 125))
def test_planned_blocks_decode_what_was_encoded(
    specs: list[tuple[DataType, ByteOrder, int, int]], max_gap: int, cap: int
) -> None:
    """Encode random tags into one register image, plan, decode each request's block: same values."""
    from collectors.config.models import ModbusConnection
    from collectors.drivers.modbus.planner import plan_requests

    image = [0] * 1000
    tags, expected, address = [], {}, 0
    for i, (data_type, order, gap, seed) in enumerate(specs):
        address += gap
        t = tag(data_type, order, address, name=f"t{i}")
        if data_type in INTEGER_BOUNDS:
            low, high = INTEGER_BOUNDS[data_type]
            value: float = low + seed % (high - low + 1)
        else:
            value = struct.unpack(">f", struct.pack(">I", seed & 0x3F7FFFFF))[0]  # finite float32
        registers = encode_value(t, value)
        image[address : address + len(registers)] = registers
        tags.append(t)
        expected[t.name] = value
        address += t.register_count
    connection = ModbusConnection(id="c", protocol="modbus", host="h", max_gap=max_gap, max_registers_per_request=cap)
    decoded = {}
    for request in plan_requests(connection, tags):
        decoder = BlockDecoder(request.address, request.count, request.tags)
        values, problems = decoder.decode(image[request.address : request.end])
        assert problems is None
        decoded.update(zip(decoder.names, values, strict=True))
    assert decoded == expected
