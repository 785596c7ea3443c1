"""The Modbus side of the brewery reads back as docs/simulator.md documents it."""

from __future__ import annotations

import pytest

from simulator import STATE_CODES
from tests.simulator.helpers import f32, frozen, i16, modbus_client, text, u32

FILLER, CAPPER, LABELLER = 1, 2, 3
LINE = "Packaging.Line1"


async def test_registers_decode_to_the_simulated_values() -> None:
    async with frozen() as sim:
        await sim.advance(300)
        client = await modbus_client(sim)
        try:
            filler = (await client.read_holding_registers(0, count=38, device_id=FILLER)).registers
            assert filler[0] in STATE_CODES.values()
            assert filler[0] == sim.point(f"{LINE}.Filler.State").value
            assert filler[10] == sim.point(f"{LINE}.Filler.GoodCount").value > 0
            assert f32(filler[20:22]) == pytest.approx(sim.point(f"{LINE}.Filler.SpeedSetpoint").value)
            assert text(filler[30:38]) == sim.point(f"{LINE}.Filler.OrderNumber").value.strip()
            running_bit = bool(filler[2] & 1)
            assert running_bit == (filler[0] == STATE_CODES["running"])

            capper = (await client.read_holding_registers(10, count=4, device_id=CAPPER)).registers
            assert u32(capper[0:2], "ABCD") == sim.point(f"{LINE}.Capper.GoodCount").value > 0
            labeller = (await client.read_holding_registers(10, count=4, device_id=LABELLER)).registers
            assert u32(labeller[0:2], "CDAB") == sim.point(f"{LINE}.Labeller.GoodCount").value > 0

            inputs = (await client.read_input_registers(0, count=3, device_id=FILLER)).registers
            assert f32(inputs[0:2], "CDAB") == pytest.approx(sim.point(f"{LINE}.Filler.SpeedActual").value, rel=1e-6)
            assert i16(inputs[2]) * 0.1 == pytest.approx(sim.point(f"{LINE}.Filler.ProductTemperature").value)

            coils = await client.read_coils(0, count=1, device_id=FILLER)
            assert coils.bits[0] is True
            discrete = await client.read_discrete_inputs(0, count=1, device_id=FILLER)
            assert discrete.bits[0] == sim.point(f"{LINE}.Filler.AirPressureOk").value

            energy = (await client.read_input_registers(0, count=4, device_id=5)).registers
            assert u32(energy[0:2]) * 0.1 == pytest.approx(sim.point(f"{LINE}.EnergyMeter.Energy").value)
            assert f32(energy[2:4]) == pytest.approx(sim.point(f"{LINE}.EnergyMeter.Power").value, rel=1e-6)
        finally:
            client.close()


async def test_setpoint_written_over_modbus_is_read_back_and_limits_refused() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim)
        try:
            import struct

            words = list(struct.unpack(">HH", struct.pack(">f", 512.5)))
            result = await client.write_registers(20, words, device_id=FILLER)
            assert not result.isError()
            back = (await client.read_holding_registers(20, count=2, device_id=FILLER)).registers
            assert f32(back) == 512.5
            assert sim.point(f"{LINE}.Filler.SpeedSetpoint").value == 512.5

            too_fast = list(struct.unpack(">HH", struct.pack(">f", 5000.0)))
            refused = await client.write_registers(20, too_fast, device_id=FILLER)
            assert refused.isError() and refused.exception_code == 3
            assert f32((await client.read_holding_registers(20, count=2, device_id=FILLER)).registers) == 512.5

            read_only = await client.write_register(10, 7, device_id=FILLER)
            assert read_only.isError() and read_only.exception_code == 2

            assert not (await client.write_coil(0, False, device_id=FILLER)).isError()
            await sim.advance(1)
            assert sim.point(f"{LINE}.Filler.State").value in (STATE_CODES["idle"], STATE_CODES["planned_stop"])
        finally:
            client.close()


async def test_unknown_unit_and_address_past_the_table_are_exceptions() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim)
        try:
            unknown = await client.read_holding_registers(0, count=1, device_id=99)
            assert unknown.isError() and unknown.exception_code == 0x0A
            past_end = await client.read_holding_registers(95, count=10, device_id=FILLER)
            assert past_end.isError() and past_end.exception_code == 2
        finally:
            client.close()


async def test_pipelined_requests_are_answered_in_order_and_bad_quantities_refused() -> None:
    """Raw frames: two requests in one TCP write get two answers; 126 registers is exception 3."""
    import asyncio
    import struct

    async with frozen() as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.modbus_port)
        try:
            first = struct.pack(">HHHBBHH", 1, 0, 6, FILLER, 3, 0, 1)
            second = struct.pack(">HHHBBHH", 2, 0, 6, CAPPER, 3, 126 - 126, 126)
            writer.write(first + second)
            answer_one = await asyncio.wait_for(reader.readexactly(11), 2)
            answer_two = await asyncio.wait_for(reader.readexactly(9), 2)
            assert struct.unpack(">H", answer_one[:2])[0] == 1 and answer_one[7] == 3
            assert struct.unpack(">H", answer_two[:2])[0] == 2 and answer_two[7:] == bytes((0x83, 3))
        finally:
            writer.close()


async def test_a_frame_that_is_not_modbus_tcp_closes_the_connection() -> None:
    import asyncio

    async with frozen() as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.modbus_port)
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = await asyncio.wait_for(reader.read(100), 2)
            except ConnectionResetError:
                data = b""
            assert data == b""
        finally:
            writer.close()
