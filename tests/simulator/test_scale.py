"""Scale mode: N extra tags over several unit ids and OPC UA folders, all changing each cycle."""

from __future__ import annotations

from asyncua import Client

from simulator import Simulator, SimulatorOptions
from simulator.scale import scale_value
from tests.simulator.helpers import modbus_client


async def test_scale_tags_spread_over_units_and_folders_and_change_every_cycle() -> None:
    count = 25_000
    async with Simulator(SimulatorOptions(scenario="brewery", seed=3, tags=count, scale_interval=3600)) as sim:
        client = await modbus_client(sim)
        try:
            for unit, address, index in ((100, 0, 0), (101, 5, 10_005), (102, 4_999, 24_999)):
                registers = (await client.read_holding_registers(address, count=1, device_id=unit)).registers
                assert registers[0] == scale_value(index, 0, 3)
            past = await client.read_holding_registers(5_000, count=1, device_id=102)
            assert past.isError() and past.exception_code == 2
            await sim.step_scale()
            block = (await client.read_holding_registers(0, count=125, device_id=101)).registers
            assert block == [scale_value(10_000 + i, 1, 3) for i in range(125)]
            assert sim.scale_cycle == 1
        finally:
            client.close()
        async with Client(sim.opcua_endpoint, timeout=5) as opcua:
            node = opcua.get_node("ns=2;s=Scale.G049.T24999")
            assert await node.read_value() == scale_value(24_999, 1, 3)
            folder = await opcua.nodes.objects.get_child(["2:Plant", "2:Scale", "2:G007"])
            assert len(await folder.get_children()) == 500
        assert sim.total_changes() == count + sum(p.changes for p in sim.points)


async def test_monitored_scale_tags_notify_every_change() -> None:
    import asyncio

    class Collect:
        def __init__(self) -> None:
            self.values: list[int] = []

        def datachange_notification(self, node, value, data) -> None:
            self.values.append(value)

    options = SimulatorOptions(scenario="brewery", seed=2, tags=1200, scale_interval=3600, modbus_port=None)
    async with Simulator(options) as sim, Client(sim.opcua_endpoint, timeout=5) as client:
        handler = Collect()
        subscription = await client.create_subscription(20, handler)
        await subscription.subscribe_data_change(client.get_node("ns=2;s=Scale.G002.T01100"))
        for _ in range(3):
            await sim.step_scale()
            await asyncio.sleep(0.1)
        for _ in range(50):
            if len(handler.values) >= 4:
                break
            await asyncio.sleep(0.05)
        assert handler.values == [sim.scale_value(1100, cycle) for cycle in range(4)]
        await subscription.delete()


async def test_fifty_thousand_modbus_tags_start_fast_and_change_in_bulk() -> None:
    import time

    options = SimulatorOptions(scenario="brewery", tags=50_000, scale_protocols=("modbus",), opcua_port=None,
                               scale_interval=3600)
    began = time.monotonic()
    async with Simulator(options) as sim:
        assert time.monotonic() - began < 2.0
        client = await modbus_client(sim)
        try:
            last = (await client.read_holding_registers(9_875, count=125, device_id=104)).registers
            assert last == [scale_value(i, 0, 1) for i in range(49_875, 50_000)]
            began = time.monotonic()
            await sim.step_scale()
            assert time.monotonic() - began < 0.5
            last = (await client.read_holding_registers(9_875, count=125, device_id=104)).registers
            assert last == [scale_value(i, 1, 1) for i in range(49_875, 50_000)]
        finally:
            client.close()
