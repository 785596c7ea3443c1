"""Root cause on the simulated brewery line: buffers fill and empty at the machines' speeds, so a
jam downstream blocks the filler and a stop upstream starves it, and the line's lost time goes
to the machine that stopped, with its fault code.

The simulator runs time-accelerated (no clock: 30 simulated minutes in a second). Its PLC
tags are what the demo's collectors read: each machine's State and FaultCode; a machine
switched off serves Bad quality. Those values, at the simulator's source times, are the
samples here (the OPC UA path itself is the demo's test). What is expected is read off the
simulator's own state changes (its ground truth), never from the attribution code.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import psycopg
import pytest

from collectors.samples import BAD_COMMUNICATION_ERROR
from mes.demo_plant import demo_plant
from mes.production import derive, root_cause
from simulator import STATE_CODES, Simulator, SimulatorOptions
from simulator.model import StateEvent
from tests.mes.production.scenario import SampleWriter
from tests.simulator.helpers import MONDAY_0700_UTC

SEED = 10  # no random breakdown in these 30 minutes, only the injected stops (micro-stops happen)
START = MONDAY_0700_UTC  # 08:00 in Europe/Berlin: early shift, before the 10:00 break
JAM = (300, "labeller", 102, 120.0)  # at s, machine, fault code, seconds
WASHER_STOP = (660, "washer", 201, 120.0)
DEPAL_STOP = (1020, "depalletiser", 204, 150.0)
WASHER_OFF = (1380, 90.0)  # the washer's PLC powered off: no data
END = 1800


def at(elapsed: float) -> datetime:
    return START + timedelta(seconds=elapsed)


async def simulate() -> list[StateEvent]:
    sim = Simulator(SimulatorOptions(speed=0, seed=SEED, start=START, modbus_port=None, opcua_port=None))
    line = sim.models["brewery"]
    for when, machine, code, seconds in (JAM, WASHER_STOP, DEPAL_STOP):
        await sim.advance(when - sim.elapsed)
        line.inject_fault(machine, code, seconds)  # type: ignore[attr-defined]
    await sim.advance(WASHER_OFF[0] - sim.elapsed)
    sim.power("washer", False)
    await sim.advance(WASHER_OFF[1])
    sim.power("washer", True)
    await sim.advance(END - sim.elapsed)
    return sim.events


@pytest.fixture(scope="module")
def events() -> list[StateEvent]:
    return asyncio.run(simulate())


@pytest.fixture
def derived(db: psycopg.Connection, events: list[StateEvent]) -> psycopg.Connection:
    plant = demo_plant("opc.tcp://127.0.0.1:1")
    derive.run_once(db, plant, now=at(-60))
    writer = SampleWriter(db)
    for event in events:
        if event.state == "off":
            writer.add(f"{event.machine}_state", event.time, None, BAD_COMMUNICATION_ERROR)
            writer.add(f"{event.machine}_fault", event.time, None, BAD_COMMUNICATION_ERROR)
        else:
            writer.add(f"{event.machine}_state", event.time, STATE_CODES[event.state])
            writer.add(f"{event.machine}_fault", event.time, event.fault_code)
    writer.flush()
    assert not derive.run_once(db, plant, now=at(END)).errors
    return db


def filler_stretches(events: list[StateEvent], state: str, start: float, end: float) -> float:
    """Seconds the simulated filler spent in ``state`` within [start, end) (the ground truth)."""
    changes = [e for e in events if e.machine == "filler"]
    total = 0.0
    for this, following in zip(changes, [*changes[1:], None], strict=True):
        until = following.elapsed if following else END
        if this.state == state:
            total += max(0.0, min(until, end) - max(this.elapsed, start))
    return total


def attributed(conn: psycopg.Connection, start: float, end: float) -> dict:
    rows = root_cause.pareto(conn, "line1", at(start), at(end), by="fault")
    return {(r["machine"], r["fault_code"]): r["seconds"] for r in rows}


def test_the_simulated_line_blocks_and_starves_through_its_buffers(events: list[StateEvent]) -> None:
    def first(machine: str, state: str, after: float) -> float:
        return next(e.elapsed for e in events if e.machine == machine and e.state == state and e.elapsed > after)

    # The labeller jams: the capper's output buffer fills first, then the filler's.
    capper_blocked, filler_blocked = first("capper", "blocked", JAM[0]), first("filler", "blocked", JAM[0])
    assert JAM[0] + 15 < capper_blocked < filler_blocked - 15 < JAM[0] + JAM[3]
    # The depalletiser stops: the washer starves first, then the filler.
    washer_starved, filler_starved = first("washer", "starved", DEPAL_STOP[0]), first("filler", "starved",
                                                                                      DEPAL_STOP[0])
    assert DEPAL_STOP[0] + 15 < washer_starved < filler_starved - 15 < DEPAL_STOP[0] + DEPAL_STOP[3]


def test_a_labeller_jam_blocks_the_filler_and_is_the_labellers(derived: psycopg.Connection,
                                                               events: list[StateEvent]) -> None:
    window = (JAM[0], JAM[0] + JAM[3] + 30)
    blocked = filler_stretches(events, "blocked", *window)
    assert blocked > 60  # the jam outlasted two buffers
    found = attributed(derived, *window)
    assert found.pop(("labeller", 102)) == pytest.approx(blocked, abs=1e-3)
    assert set(found) <= {("filler", code) for code in (101, 102, 103)}  # the filler's own micro-stops
    rule = {r["rule"] for r in root_cause.attributions(derived, "line1", at(window[0]), at(window[1]))
            if r["machine"] == "labeller"}  # fmt: skip
    assert rule == {"downstream"}


def test_a_washer_stop_starves_the_filler_and_is_the_washers(derived: psycopg.Connection,
                                                             events: list[StateEvent]) -> None:
    window = (WASHER_STOP[0], WASHER_STOP[0] + WASHER_STOP[3] + 30)
    starved = filler_stretches(events, "starved", *window)
    assert starved > 60
    found = attributed(derived, *window)
    assert found.pop(("washer", 201)) == pytest.approx(starved, abs=1e-3)
    assert set(found) <= {("filler", code) for code in (101, 102, 103)}


def test_two_starved_machines_are_followed_to_the_depalletiser(derived: psycopg.Connection,
                                                               events: list[StateEvent]) -> None:
    window = (DEPAL_STOP[0], DEPAL_STOP[0] + DEPAL_STOP[3] + 30)
    starved = filler_stretches(events, "starved", *window)
    assert starved > 60
    found = attributed(derived, *window)
    assert found.pop(("depalletiser", 204)) == pytest.approx(starved, abs=1e-3)
    assert set(found) <= {("filler", code) for code in (101, 102, 103)}


def test_a_stop_without_data_says_unknown(derived: psycopg.Connection, events: list[StateEvent]) -> None:
    window = (WASHER_OFF[0], WASHER_OFF[0] + WASHER_OFF[1] + 30)
    starved = filler_stretches(events, "starved", *window)
    assert starved > 30
    found = attributed(derived, *window)
    assert found.pop((None, None)) == pytest.approx(starved, abs=1e-3)
    reasons = {r["unknown_reason"] for r in root_cause.attributions(derived, "line1", at(window[0]), at(window[1]))
               if r["rule"] == "unknown"}  # fmt: skip
    assert reasons == {"no data from washer"}
