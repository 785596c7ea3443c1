"""Brewery line behaviour: states, fault codes, buffers that block and starve, breaks, order changes, counters,
determinism."""

from __future__ import annotations

from simulator import STATE_CODES, Simulator, SimulatorOptions
from simulator.brewery import BUFFER_BOTTLES, MAJOR_FAULTS, MINOR_FAULTS
from tests.simulator.helpers import MONDAY_0700_UTC, frozen, modbus_client, u32

LINE = "Packaging.Line1"
MACHINES = ("Depalletiser", "Washer", "Filler", "Capper", "Labeller", "Packer")


def model_only(**overrides) -> Simulator:
    """No servers: the model and its ground truth only (fast)."""
    options = {"speed": 0, "start": MONDAY_0700_UTC, "modbus_port": None, "opcua_port": None}
    options.update(overrides)
    return Simulator(SimulatorOptions(**options))


def signature(sim: Simulator) -> list[tuple]:
    return [(round(e.elapsed, 6), e.machine, e.state, e.fault_code) for e in sim.events]


async def test_same_seed_same_events_however_time_is_stepped() -> None:
    coarse, fine, other = model_only(seed=5), model_only(seed=5), model_only(seed=6)
    await coarse.advance(6 * 3600)
    for _ in range(360):
        await fine.advance(60)
    await other.advance(6 * 3600)
    assert len(signature(coarse)) > 100
    assert signature(coarse) == signature(fine)
    assert signature(coarse) != signature(other)
    assert coarse.counters("filler") == fine.counters("filler")


async def test_machines_go_through_every_state_with_minor_and_major_fault_codes() -> None:
    sim = model_only(seed=1)
    await sim.advance(8 * 3600)
    states = {e.state for e in sim.events}
    assert {"running", "fault", "starved", "blocked", "changeover", "planned_stop"} <= states
    codes = {e.fault_code for e in sim.events if e.state == "fault"}
    assert codes & set(MINOR_FAULTS) and codes & set(MAJOR_FAULTS)
    micro = [b.elapsed - a.elapsed for a, b in zip(sim.events, sim.events[1:], strict=False)
             if a.state == "fault" and a.fault_code in MINOR_FAULTS and b.machine == a.machine]
    assert micro and max(micro) <= 8.0 + 1e-6


async def test_break_at_ten_local_is_a_planned_stop_for_the_whole_line() -> None:
    sim = model_only()
    await sim.advance(2 * 3600 + 60)  # 09:01 UTC = 10:01 Europe/Berlin
    assert {sim.point(f"{LINE}.{m}.State").value for m in MACHINES} == {STATE_CODES["planned_stop"]}
    await sim.advance(30 * 60)
    assert STATE_CODES["planned_stop"] not in {sim.point(f"{LINE}.{m}.State").value for m in MACHINES}


async def test_buffers_fill_and_empty_at_the_machines_speeds() -> None:
    sim = model_only(seed=10)
    line = sim.models["brewery"]
    await sim.advance(160)
    assert all(sim.point(f"{LINE}.{m}.State").value == STATE_CODES["running"] for m in MACHINES)
    # The V-curve: the conveyors before the filler stand full, those after it empty.
    assert line.buffer_levels() == [BUFFER_BOTTLES, BUFFER_BOTTLES, 0.0, 0.0, 0.0]
    sim.power("filler", False)
    await sim.advance(0.001)
    # Nothing to take from the full conveyor: the washer (and behind it the depalletiser) is
    # blocked at once; nothing comes out of the filler: capper, labeller and packer starve.
    states = {m: sim.point(f"{LINE}.{m}.State").value for m in MACHINES if m != "Filler"}
    assert states == {"Depalletiser": 3, "Washer": 3, "Capper": 2, "Labeller": 2, "Packer": 2}
    sim.power("filler", True)
    await sim.advance(200 - sim.elapsed)
    line.inject_fault("labeller", 102, 60)
    rate = line._machine("filler").flow  # bottles/s the filler makes, and the capper passes on
    await sim.advance(BUFFER_BOTTLES / rate - 0.5)
    assert sim.point(f"{LINE}.Capper.State").value == STATE_CODES["running"]
    await sim.advance(1)  # the labeller's infeed conveyor is full: the capper stands
    assert sim.point(f"{LINE}.Capper.State").value == STATE_CODES["blocked"]
    assert sim.point(f"{LINE}.Filler.State").value == STATE_CODES["running"]
    await sim.advance(BUFFER_BOTTLES / rate)  # then the capper's: the filler stands
    assert sim.point(f"{LINE}.Filler.State").value == STATE_CODES["blocked"]


async def test_16_and_32_bit_counters_wrap_and_add_up_to_the_truth() -> None:
    async with frozen(counter_start=2**32 - 3000) as sim:
        client = await modbus_client(sim)
        try:
            first = (await client.read_holding_registers(10, count=2, device_id=2)).registers
            assert u32(first) == 2**32 - 3000
            filler_first = (await client.read_holding_registers(10, count=1, device_id=1)).registers[0]
            assert filler_first == (2**32 - 3000) % 65536
            await sim.advance(900)
            truth = sim.counters("capper")
            assert truth.good > 3000
            capper = u32((await client.read_holding_registers(10, count=2, device_id=2)).registers)
            assert capper == (2**32 - 3000 + truth.good) % 2**32 < truth.good  # wrapped past zero
            filler = (await client.read_holding_registers(10, count=1, device_id=1)).registers[0]
            assert filler == (filler_first + sim.counters("filler").good) % 65536
            labeller = u32((await client.read_holding_registers(10, count=2, device_id=3)).registers, "CDAB")
            assert labeller == (2**32 - 3000 + sim.counters("labeller").good) % 2**32
        finally:
            client.close()


async def test_counters_reset_and_product_changes_at_order_change() -> None:
    async with frozen(order_minutes=45) as sim:
        client = await modbus_client(sim)
        try:
            await sim.advance(44 * 60)
            before = (await client.read_holding_registers(0, count=12, device_id=1)).registers
            assert before[10] > 1000 and before[3] == 1
            await sim.advance(2 * 60)
            after = (await client.read_holding_registers(0, count=38, device_id=1)).registers
            assert after[0] == STATE_CODES["changeover"]
            assert after[10] == 0 and after[11] == 0
            assert after[3] == 2  # next product
            assert sim.counters("filler").resets == 1
            assert sim.point(f"{LINE}.Filler.OrderNumber").value.endswith("00002")
        finally:
            client.close()


async def test_line_energy_counter_rises_with_production() -> None:
    sim = model_only()
    energy = sim.point(f"{LINE}.EnergyMeter.Energy")
    await sim.advance(3600)
    first_hour = energy.value
    assert 20 < first_hour < 80
    assert sim.point(f"{LINE}.EnergyMeter.Power").value > 0


async def test_point_changes_count_published_updates() -> None:
    sim = model_only()
    state = sim.point(f"{LINE}.Filler.State")
    await sim.advance(2 * 3600 + 60)
    transitions = [e for e in sim.events if e.machine == "filler"]
    assert len(transitions) > 10
    assert state.changes == len(transitions) - 1  # every transition after the initial state was published
    assert sim.total_changes() > state.changes


async def test_running_clock_at_fixed_speed_repeats_the_event_sequence() -> None:
    import asyncio

    first, second = model_only(seed=9, speed=7200, tick=0.02), model_only(seed=9, speed=7200, tick=0.05)
    async with first, second:
        await asyncio.sleep(0.6)
    common = min(len(signature(first)), len(signature(second)))
    assert common > 10
    assert signature(first)[:common] == signature(second)[:common]
