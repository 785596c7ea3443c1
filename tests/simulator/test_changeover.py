"""The brewery's changeover waits for each machine's speed setpoint: typed by a simulated operator
after the mechanical work (manual), or written by anyone, e.g. a recipe download (download)."""

from __future__ import annotations

from datetime import UTC, datetime

from simulator import Simulator, SimulatorOptions
from simulator.brewery import MACHINES, PRODUCTS, SETPOINT_SHARE
from simulator.changeover import MANUAL_SECONDS_PER_MACHINE

FILLER = "Packaging.Line1.Filler"
ORDER_S = 1800.0
START = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # 06:00 in Berlin: the first break is four hours away


def filler_changeovers(sim: Simulator) -> list[tuple[float, float]]:
    """(start, end) of the filler's changeover intervals, in simulated seconds."""
    spans, start = [], None
    for event in sim.events:
        if event.machine != "filler":
            continue
        if event.state == "changeover":
            start = event.elapsed
        elif start is not None:
            spans.append((start, event.elapsed))
            start = None
    return spans


async def test_manual_entry_adds_the_typing_after_the_mechanical_work() -> None:
    options = SimulatorOptions(scenario="brewery", speed=0, modbus_port=None, opcua_port=None, order_minutes=30,
                               start=START)  # fmt: skip
    async with Simulator(options) as preset, Simulator(options, setpoint_entry="manual") as manual:
        await preset.advance(ORDER_S + 2100)  # mechanical work (≤ 20 min) and six machines typed (12 min)
        await manual.advance(ORDER_S + 2100)
        [(start, preset_end)] = filler_changeovers(preset)
        [(manual_start, manual_end)] = filler_changeovers(manual)
    assert start == manual_start == ORDER_S
    # every machine of the line (six) typed one after another
    assert manual_end - preset_end == len(MACHINES) * MANUAL_SECONDS_PER_MACHINE


async def test_download_mode_runs_once_every_machine_holds_the_new_products_speed() -> None:
    options = SimulatorOptions(scenario="brewery", speed=0, modbus_port=None, opcua_port=None, order_minutes=30,
                               start=START, setpoint_entry="download")  # fmt: skip
    async with Simulator(options) as sim:
        await sim.advance(ORDER_S + 1500)  # long past the mechanical changeover: nobody wrote the speeds
        assert sim.point(f"{FILLER}.State").value == 5  # still changeover
        targets = {m.id: round(m.base_rate * PRODUCTS[1].rate_factor * SETPOINT_SHARE, 1) for m in MACHINES}  # pils033
        for machine, value in targets.items():
            sim.point(f"Packaging.Line1.{machine}.SpeedSetpoint").set(value, sim.now)
        await sim.advance(1.0)
        assert sim.point(f"{FILLER}.State").value != 5
        [(start, end)] = filler_changeovers(sim)
    assert (start, end) == (ORDER_S, ORDER_S + 1501.0)
