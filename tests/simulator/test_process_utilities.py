"""Process unit and utilities: batch cycle, setpoints read back and followed, wear that predictive alarms can see."""

from __future__ import annotations

import struct

import pytest
from asyncua import Client, ua

from simulator.utilities import FAST_WEAR_MOTOR, FIRST_MOTOR_UNIT
from tests.simulator.helpers import f32, frozen, i16, modbus_client, u32

AUTOCLAVE, OVEN = "Impregnation.CuringLine.Autoclave", "Impregnation.CuringLine.CuringOven"


async def test_batch_phases_cycle_and_batches_count_up() -> None:
    async with frozen(scenario="process") as sim:
        phases = set()
        for _ in range(60):
            await sim.advance(300)
            phases.add(sim.point(f"{AUTOCLAVE}.BatchPhase").value)
        assert phases == set(range(7))
        assert sim.point(f"{AUTOCLAVE}.BatchNumber").value >= 2
        client = await modbus_client(sim)
        try:
            registers = (await client.read_holding_registers(0, count=10, device_id=10)).registers
            assert registers[1] == sim.point(f"{AUTOCLAVE}.BatchPhase").value
            assert u32(registers[2:4]) == sim.point(f"{AUTOCLAVE}.BatchNumber").value
            temperature = (await client.read_input_registers(0, count=2, device_id=10)).registers
            assert f32(temperature) == pytest.approx(sim.point(f"{AUTOCLAVE}.Temperature").value, rel=1e-6)
        finally:
            client.close()


async def test_oven_setpoint_written_over_opcua_is_read_back_and_followed() -> None:
    async with frozen(scenario="process") as sim:
        await sim.advance(3 * 3600)
        assert sim.point(f"{OVEN}.Zone1Temperature").value == pytest.approx(180, abs=5)
        async with Client(sim.opcua_endpoint, timeout=5) as client:
            setpoint = client.get_node(f"ns=2;s={OVEN}.Zone1Setpoint")
            await setpoint.write_value(ua.DataValue(ua.Variant(150.0, ua.VariantType.Double)))
            await sim.advance(1)
            assert await setpoint.read_value() == 150.0
            await sim.advance(3 * 3600)
            zone = await client.get_node(f"ns=2;s={OVEN}.Zone1Temperature").read_value()
            assert zone == pytest.approx(150, abs=5)
        modbus = await modbus_client(sim)
        try:
            assert f32((await modbus.read_holding_registers(0, count=2, device_id=11)).registers) == 150.0
            scaled = (await modbus.read_input_registers(0, count=1, device_id=11)).registers[0]
            assert i16(scaled) * 0.1 == pytest.approx(zone, abs=0.051)
            words = list(struct.unpack(">HH", struct.pack(">f", 170.0)))
            assert not (await modbus.write_registers(0, words, device_id=11)).isError()
            await sim.advance(1)
            assert sim.point(f"{OVEN}.Zone1Setpoint").value == 170.0
        finally:
            modbus.close()


async def test_bearing_wear_raises_vibration_and_temperature_until_replacement() -> None:
    async with frozen(scenario="utilities") as sim:
        model = sim.models["utilities"]
        motor = FAST_WEAR_MOTOR - 1
        life = model.life[motor]
        # Jump to just after a bearing replacement, then watch one life.
        to_replacement = (1 - model.wear(motor, 0.0)) * life
        await sim.advance(to_replacement + 60)
        unit = FIRST_MOTOR_UNIT + motor
        client = await modbus_client(sim)
        try:
            readings = []
            for _ in range(4):
                registers = (await client.read_input_registers(0, count=2, device_id=unit)).registers
                readings.append((registers[0] * 0.01, i16(registers[1]) * 0.1))
                await sim.advance(life * 0.3)
        finally:
            client.close()
        vibration = [v for v, _ in readings]
        temperature = [t for _, t in readings]
        assert vibration[-1] > 3 * vibration[0]
        assert temperature[-1] > temperature[0] + 10
        assert any(e.state == "bearing_replaced" and e.machine == f"motor{FAST_WEAR_MOTOR:02d}" for e in sim.events)
        assert sim.point(f"Utilities.Motors.Motor{FAST_WEAR_MOTOR:02d}.BearingReplacements").value >= 1


async def test_energy_meter_counts_kwh_in_cdab_fixed_point() -> None:
    async with frozen(scenario="utilities") as sim:
        client = await modbus_client(sim)
        try:
            start = u32((await client.read_input_registers(0, count=2, device_id=20)).registers, "CDAB") * 0.01
            await sim.advance(3600)
            registers = (await client.read_input_registers(0, count=4, device_id=20)).registers
            after = u32(registers[0:2], "CDAB") * 0.01
            power = f32(registers[2:4], "CDAB")
        finally:
            client.close()
        assert 150 < after - start < 300  # ~200 kW for an hour
        assert 150 < power < 300


def i32(registers: list[int], order: str = "ABCD") -> int:
    value = u32(registers, order)
    return value - (1 << 32) if value & 0x80000000 else value


async def test_int32_values_in_abcd_and_cdab_including_negative_ones() -> None:
    async with frozen(scenario="process,utilities") as sim:
        client = await modbus_client(sim)
        try:
            for _ in range(2):
                position = i32((await client.read_input_registers(6, count=2, device_id=11)).registers, "CDAB")
                assert position == sim.point(f"{OVEN}.ConveyorPosition").value
                reactive = i32((await client.read_input_registers(8, count=2, device_id=20)).registers, "ABCD")
                assert reactive * 0.01 == pytest.approx(sim.point("Utilities.Energy.MainMeter.ReactivePower").value)
                await sim.advance(3600)
            assert position < 0  # the encoder wrapped past 2^31 during the first hours
        finally:
            client.close()


async def test_the_compressor_sub_meter_draws_a_base_load_while_off_and_wraps() -> None:
    from simulator import Simulator, SimulatorOptions
    from simulator.utilities import COMPRESSOR_BASE_KW, COMPRESSOR_METER_START, COMPRESSOR_METER_WRAP

    sim = Simulator(SimulatorOptions(scenario="utilities", speed=0, modbus_port=None, opcua_port=None))
    energy = sim.point("Utilities.Energy.CompressorMeter.Energy")
    power = sim.point("Utilities.Energy.CompressorMeter.Power")
    await sim.advance(700.0)  # 10 min loaded, now unloaded
    assert power.value == COMPRESSOR_BASE_KW
    before = energy.value
    await sim.advance(60.0)  # a minute unloaded: 1.5 kW for 60 s
    assert energy.value - before == pytest.approx(COMPRESSOR_BASE_KW / 60, abs=0.1)
    await sim.advance(6 * 3600.0)  # ~55 kWh more: past 6,553.6 from 6,500
    used = sim.models["utilities"].compressor_kwh(sim.elapsed)
    assert used > COMPRESSOR_METER_WRAP - COMPRESSOR_METER_START
    assert energy.value == pytest.approx((COMPRESSOR_METER_START + used) % COMPRESSOR_METER_WRAP, abs=0.1)
    assert energy.value < COMPRESSOR_METER_START  # it rolled over
