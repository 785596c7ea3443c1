"""Verified setpoint writes against the line simulator, over Modbus and OPC UA: written values read
back equal, a device that drops a write is caught by the read-back, out-of-limit values never leave."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from collectors.config.models import ModbusConnection, OpcuaConnection, Tag
from collectors.drivers.modbus import ModbusDriver
from collectors.drivers.opcua import OpcuaDriver
from collectors.errors import WriteRefused
from collectors.setpoints import write_verified
from simulator import Simulator, SimulatorOptions

FILLER = "Packaging.Line1.Filler"


def modbus_tags() -> list[Tag]:
    return [
        Tag(name="speed_sp", connection="plc", unit_id=1, table="holding_register", address=20, data_type="float32",
            writable=True, write_limits=(0, 900), unit="bottles/min"),
        Tag(name="enable", connection="plc", unit_id=1, table="coil", address=0, data_type="bool", writable=True),
        Tag(name="state", connection="plc", unit_id=1, table="holding_register", address=0, data_type="uint16"),
    ]


def opcua_tags(ns: int) -> list[Tag]:
    return [
        Tag(name="speed_sp", connection="scada", node_id=f"ns={ns};s={FILLER}.SpeedSetpoint", writable=True,
            write_limits=(0, 900)),
        Tag(name="enable", connection="scada", node_id=f"ns={ns};s={FILLER}.Enable", writable=True),
        Tag(name="state", connection="scada", node_id=f"ns={ns};s={FILLER}.State"),
    ]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorOptions(scenario="brewery", speed=0)) as running:
        yield running


@pytest.fixture
async def drivers(sim: Simulator, tmp_path) -> AsyncIterator[dict[str, tuple[object, dict[str, Tag]]]]:
    plc = ModbusConnection(id="plc", protocol="modbus", host="127.0.0.1", port=sim.modbus_port, timeout=1.0)
    scada = OpcuaConnection(id="scada", protocol="opcua", endpoint=sim.opcua_endpoint)
    mtags, otags = modbus_tags(), opcua_tags(sim.opcua_namespace)
    modbus, opcua = ModbusDriver(plc, mtags), OpcuaDriver(scada, otags, pki_dir=tmp_path / "pki")
    await modbus.connect()
    await opcua.connect()
    try:
        yield {"modbus": (modbus, {t.name: t for t in mtags}), "opcua": (opcua, {t.name: t for t in otags})}
    finally:
        await modbus.close()
        await opcua.close()


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
async def test_a_written_setpoint_reads_back_equal_and_reaches_the_device(sim, drivers, protocol) -> None:
    driver, tags = drivers[protocol]
    point = sim.point(f"{FILLER}.SpeedSetpoint")
    old = point.value
    outcome = await write_verified(driver, tags["speed_sp"], 512.5)
    assert (outcome.result, outcome.old, outcome.readback) == ("written", old, 512.5), outcome
    assert point.value == 512.5  # the simulated machine holds it, not just the register
    coil = await write_verified(driver, tags["enable"], False)
    assert coil.result == "written" and coil.readback in (False, 0.0) and sim.point(f"{FILLER}.Enable").value is False


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
async def test_a_write_the_device_acknowledges_and_drops_is_a_mismatch(sim, drivers, protocol) -> None:
    driver, tags = drivers[protocol]
    point = sim.point(f"{FILLER}.SpeedSetpoint")
    old = point.value
    sim.ignore_writes(point.name, protocol)
    outcome = await write_verified(driver, tags["speed_sp"], 444.0, window=0.3)
    assert outcome.result == "mismatch" and outcome.readback == old, outcome
    assert "444" in outcome.message and point.value == old
    sim.clear_faults()
    assert (await write_verified(driver, tags["speed_sp"], 444.0)).result == "written"


async def test_an_out_of_limit_value_never_reaches_the_device(sim, drivers) -> None:
    driver, tags = drivers["modbus"]
    requests = sim.modbus.requests
    outcome = await write_verified(driver, tags["speed_sp"], 901.0)
    assert outcome.result == "refused" and "write limits [0, 900]" in outcome.message
    assert sim.modbus.requests == requests  # not even the old value was read


@pytest.mark.parametrize("protocol", ["modbus", "opcua"])
async def test_a_tag_that_is_not_writable_is_refused_by_the_driver_itself(drivers, protocol) -> None:
    driver, tags = drivers[protocol]
    with pytest.raises(WriteRefused, match="not writable"):
        await driver.write("state", 3)
    assert (await write_verified(driver, tags["state"], 3)).result == "refused"
