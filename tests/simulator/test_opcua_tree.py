"""The OPC UA side: ISA-95 folders, typed variables with units and ranges, source times, Bad when off."""

from __future__ import annotations

from asyncua import Client, ua

from tests.simulator.helpers import MONDAY_0700_UTC, frozen

LINE = "Packaging.Line1"


async def test_tree_is_browsable_by_isa95_path_with_units_and_ranges() -> None:
    async with frozen() as sim:
        await sim.advance(120)
        async with Client(sim.opcua_endpoint, timeout=5) as client:
            ns = await client.get_namespace_index("http://linebrain.dev/simulator")
            assert ns == sim.opcua_namespace == 2
            path = [f"{ns}:{name}" for name in ("Plant", "Packaging", "Line1", "Filler", "SpeedActual")]
            node = await client.nodes.objects.get_child(path)
            assert node.nodeid == ua.NodeId(f"{LINE}.Filler.SpeedActual", ns)
            assert await node.read_data_type_as_variant_type() == ua.VariantType.Double
            units = await (await node.get_child("0:EngineeringUnits")).read_value()
            assert units.DisplayName.Text == "bottles/min"
            eu_range = await (await node.get_child("0:EURange")).read_value()
            assert (eu_range.Low, eu_range.High) == (0, 900)
            temperature = client.get_node(f"ns={ns};s={LINE}.Filler.ProductTemperature")
            temp_units = await (await temperature.get_child("0:EngineeringUnits")).read_value()
            assert temp_units.UnitId == 4408652  # UNECE "CEL"

            good = await client.get_node(f"ns={ns};s={LINE}.Capper.GoodCount").read_data_value()
            assert good.Value.VariantType == ua.VariantType.UInt32
            assert good.Value.Value == sim.point(f"{LINE}.Capper.GoodCount").value > 0
            assert good.SourceTimestamp is not None
            assert MONDAY_0700_UTC <= good.SourceTimestamp.replace(tzinfo=MONDAY_0700_UTC.tzinfo) <= sim.now
            filler_good = await client.get_node(f"ns={ns};s={LINE}.Filler.GoodCount").read_data_value()
            assert filler_good.Value.VariantType == ua.VariantType.UInt16


async def test_values_turn_bad_while_a_machine_is_powered_off() -> None:
    async with frozen() as sim, Client(sim.opcua_endpoint, timeout=5) as client:
        state = client.get_node(f"ns=2;s={LINE}.Labeller.State")
        assert (await state.read_data_value()).StatusCode.is_good()
        sim.power("labeller", False)
        await sim.advance(1)
        off = await state.read_data_value(raise_on_bad_status=False)
        assert off.StatusCode.value == ua.StatusCodes.BadNoCommunication
        other = await client.get_node(f"ns=2;s={LINE}.Filler.State").read_data_value()
        assert other.StatusCode.is_good()
        sim.power("labeller", True)
        await sim.advance(1)
        assert (await state.read_data_value()).StatusCode.is_good()


async def test_writable_setpoint_is_read_back_and_out_of_range_refused() -> None:
    async with frozen() as sim, Client(sim.opcua_endpoint, timeout=5) as client:
        node = client.get_node(f"ns=2;s={LINE}.Capper.SpeedSetpoint")
        await node.write_value(ua.DataValue(ua.Variant(555.0, ua.VariantType.Double)))
        await sim.advance(1)
        assert await node.read_value() == 555.0
        assert sim.point(f"{LINE}.Capper.SpeedSetpoint").value == 555.0
        try:
            await node.write_value(ua.DataValue(ua.Variant(99999.0, ua.VariantType.Double)))
        except ua.UaStatusCodeError as exc:
            assert exc.code == ua.StatusCodes.BadOutOfRange
        else:
            raise AssertionError("an out-of-range setpoint was accepted")
        read_only = client.get_node(f"ns=2;s={LINE}.Capper.GoodCount")
        try:
            await read_only.write_value(ua.DataValue(ua.Variant(1, ua.VariantType.UInt32)))
        except ua.UaStatusCodeError as exc:
            assert exc.code in (ua.StatusCodes.BadNotWritable, ua.StatusCodes.BadUserAccessDenied)
        else:
            raise AssertionError("a counter was writable")


async def test_a_subscriber_sees_every_state_change_at_high_speed() -> None:
    import asyncio

    from simulator import STATE_CODES, Simulator, SimulatorOptions

    class Collect:
        def __init__(self) -> None:
            self.values: list[int] = []

        def datachange_notification(self, node, value, data) -> None:
            self.values.append(value)

    options = SimulatorOptions(seed=4, speed=1200, start=MONDAY_0700_UTC, modbus_port=None, tick=0.05)
    async with Simulator(options) as sim, Client(sim.opcua_endpoint, timeout=5) as client:
        handler = Collect()
        subscription = await client.create_subscription(20, handler)
        node = client.get_node(f"ns=2;s={LINE}.Capper.State")
        await subscription.subscribe_data_change(node, queuesize=1000)
        subscribed = sim.events[-1].elapsed if sim.events else 0.0
        after: list[int] = []
        for _ in range(100):
            await asyncio.sleep(0.05)
            after = [STATE_CODES[e.state] for e in sim.events if e.machine == "capper" and e.elapsed > subscribed]
            if len(after) >= 4 and len(handler.values) > len(after):
                break
        await subscription.delete()
        history = [STATE_CODES[e.state] for e in sim.events if e.machine == "capper"]
    assert len(after) >= 4
    # The first notification is the value at subscription time; then every change, in order: what
    # the subscriber saw is one unbroken run of the capper's state history (compared as a run, not
    # against a list taken at another instant, since notifications are still in flight then).
    seen = handler.values
    assert len(seen) >= 5, seen
    runs = [i for i in range(1, len(history) - len(seen) + 2) if history[i - 1:i - 1 + len(seen)] == seen]
    assert runs, (seen, history)
