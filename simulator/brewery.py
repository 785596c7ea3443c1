"""Brewery packaging line: depalletiser → washer → filler → capper → labeller → packer.

Each machine runs its own seeded stop process (micro-stops of seconds, now and
then a breakdown of minutes). Between two machines a conveyor buffers up to
``BUFFER_BOTTLES``; it fills and empties at the machines' speeds. A machine whose
input buffer is empty runs no faster than its upstream neighbour and is *starved*
when that one delivers nothing; one whose output buffer is full runs no faster
than its downstream neighbour and is *blocked* when that one takes nothing. The
speeds form the brewery's V-curve around the filler (the constraint), so the
buffers before it stand full and those after it empty: a labeller jam blocks
the capper, then the filler; a depalletiser stop starves the washer, then the
filler. Line-wide, orders change every ``order_minutes`` (changeover, counters
reset, next product) and the shift pattern's breaks are planned stops.

The model is event driven: between two events every flow is constant, so
counts and buffer levels are integrated exactly and the event sequence depends
only on the seed.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from collectors.config.models import ByteOrder, DataType, ModbusTable
from simulator.changeover import SetpointEntry
from simulator.model import STATE_CODES, CounterTruth, StateEvent
from simulator.noise import key_of, noise
from simulator.points import ModbusLocation, Point
from simulator.schedule import BreakSchedule

LINE = "Packaging.Line1"
LINE_ID = "line1"
TIMEZONE = "Europe/Berlin"
BREAKS = [(time(10, 0), 30.0), (time(18, 0), 30.0), (time(2, 0), 30.0)]
BUFFER_BOTTLES = 200.0  # per conveyor: 20 s of the filler at lager05
CONSTRAINT = "Filler"
MEAN_RUN_SECONDS = 300.0
BREAKDOWN_SHARE = 0.04
MINOR_FAULTS = (101, 102, 103)  # jam at infeed, jam at outfeed, supply low
MAJOR_FAULTS = (201, 202, 203, 204)  # drive fault, compressed air low, sensor failure, mechanical
AIR_PRESSURE_FAULT = 202


@dataclass(frozen=True)
class Product:
    id: str
    code: int
    name: str
    rate_factor: float  # × the machine's base rate


PRODUCTS = (
    Product("lager05", 1, "Lager 0.5 l", 1.0),
    Product("pils033", 2, "Pils 0.33 l", 1.2),
    Product("weizen05", 3, "Weizen 0.5 l", 0.85),
)


@dataclass(frozen=True)
class MachineSpec:
    id: str
    unit_id: int
    base_rate: float  # units per minute at 100 % for lager05
    counter_bits: int
    byte_order: ByteOrder
    unit: str
    bottles_per_unit: int = 1


# In product order, upstream first. The V-curve: every other machine at least 15 % faster than
# the filler, so a machine's own speed spread (90-100 %) never makes it the bottleneck.
MACHINES = (
    MachineSpec("Depalletiser", 6, 720.0, 16, ByteOrder.ABCD, "bottles"),
    MachineSpec("Washer", 7, 690.0, 32, ByteOrder.ABCD, "bottles"),
    MachineSpec("Filler", 1, 600.0, 16, ByteOrder.ABCD, "bottles"),
    MachineSpec("Capper", 2, 690.0, 32, ByteOrder.ABCD, "bottles"),
    MachineSpec("Labeller", 3, 720.0, 32, ByteOrder.CDAB, "bottles"),
    MachineSpec("Packer", 4, 31.0, 16, ByteOrder.ABCD, "cases", bottles_per_unit=24),
)
BUFFER_EPSILON = 1e-6  # bottles: a buffer this close to empty or full is empty or full
ENERGY_UNIT_ID = 5
SETPOINT_SHARE = 0.95  # default speed setpoint as a share of the ideal rate


def ideal_cycle_time(product: Product) -> float:
    """Seconds per unit of the line (the filler is the bottleneck), as the example config states."""
    filler = next(m for m in MACHINES if m.id == CONSTRAINT)
    return round(60.0 / (filler.base_rate * product.rate_factor), 6)


@dataclass
class Buffer:
    """A conveyor between two machines: its level at ``since`` and the net flow into it since."""

    level: float = BUFFER_BOTTLES / 2
    since: float = 0.0
    flow: float = 0.0  # bottles/s: upstream out − downstream in

    def at(self, t: float) -> float:
        return min(max(self.level + self.flow * (t - self.since), 0.0), BUFFER_BOTTLES)

    def empty(self, t: float) -> bool:
        return self.at(t) <= BUFFER_EPSILON

    def full(self, t: float) -> bool:
        return self.at(t) >= BUFFER_BOTTLES - BUFFER_EPSILON

    def rebase(self, t: float, flow: float) -> None:
        level = self.at(t)
        self.level = 0.0 if level <= BUFFER_EPSILON else BUFFER_BOTTLES if level >= BUFFER_BOTTLES - BUFFER_EPSILON \
            else level
        self.since, self.flow = t, flow

    def next_event(self) -> float:
        """When it runs empty or full at the current flow (infinity: never)."""
        if self.flow < 0 and self.level > 0:
            return self.since + self.level / -self.flow
        if self.flow > 0 and self.level < BUFFER_BOTTLES:
            return self.since + (BUFFER_BOTTLES - self.level) / self.flow
        return math.inf


@dataclass(eq=False)
class Machine:
    spec: MachineSpec
    rng: random.Random
    points: dict[str, Point]
    fault: bool = False
    fault_code: int = 0
    own_until: float = 0.0
    powered: bool = True
    flow: float = 0.0  # bottles/s it processes now
    efficiency: float = 1.0
    produced: float = 0.0  # units this order, fractional
    reject_share: float = 0.01
    counter_base: int = 0
    state: str = "idle"
    truth: CounterTruth = field(default_factory=CounterTruth)

    @property
    def key(self) -> str:
        return self.spec.id.lower()



def _machine_points(spec: MachineSpec) -> dict[str, Point]:
    prefix = f"{LINE}.{spec.id}"
    machine = spec.id.lower()
    unit = spec.unit_id
    hr, ir = ModbusTable.holding_register, ModbusTable.input_register

    def loc(table: ModbusTable, address: int, data_type: DataType = DataType.uint16, **kw) -> ModbusLocation:
        return ModbusLocation(unit, table, address, data_type, **kw)

    if spec.counter_bits == 16:
        good_loc, reject_loc, counter_type = loc(hr, 10), loc(hr, 11), "UInt16"
    else:
        good_loc = loc(hr, 10, DataType.uint32, byte_order=spec.byte_order)
        reject_loc = loc(hr, 12, DataType.uint32, byte_order=spec.byte_order)
        counter_type = "UInt32"
    rate_high = round(spec.base_rate * 1.5)
    specs = [
        Point(f"{prefix}.State", "UInt16", STATE_CODES["idle"], modbus=loc(hr, 0),
              description="1 running, 2 starved, 3 blocked, 4 fault, 5 changeover, 6 planned stop, 7 idle"),
        Point(f"{prefix}.FaultCode", "UInt16", 0, modbus=loc(hr, 1),
              description="0 none; 101-103 minor (jams, supply), 201-204 breakdown"),
        Point(f"{prefix}.Running", "Boolean", False, modbus=loc(hr, 2, DataType.bit, bit=0),
              description="status word bit 0"),
        Point(f"{prefix}.Faulted", "Boolean", False, modbus=loc(hr, 2, DataType.bit, bit=1),
              description="status word bit 1"),
        Point(f"{prefix}.Blocked", "Boolean", False, modbus=loc(hr, 2, DataType.bit, bit=2),
              description="status word bit 2"),
        Point(f"{prefix}.Starved", "Boolean", False, modbus=loc(hr, 2, DataType.bit, bit=3),
              description="status word bit 3"),
        Point(f"{prefix}.ProductCode", "UInt16", 0, modbus=loc(hr, 3),
              description="1 lager05, 2 pils033, 3 weizen05"),
        Point(f"{prefix}.GoodCount", counter_type, 0, unit=spec.unit, modbus=good_loc,
              description=f"{spec.counter_bits}-bit, wraps; reset at order change"),
        Point(f"{prefix}.RejectCount", counter_type, 0, unit=spec.unit, modbus=reject_loc,
              description=f"{spec.counter_bits}-bit, wraps; reset at order change"),
        Point(f"{prefix}.SpeedSetpoint", "Double", 0.0, unit=f"{spec.unit}/min", range=(0, rate_high),
              modbus=loc(hr, 20, DataType.float32), writable=True, write_limits=(0, rate_high),
              description="writable; set to 95 % of the product's ideal rate at each order change"),
        Point(f"{prefix}.OrderNumber", "String", "", modbus=loc(hr, 30, DataType.string, length=8),
              description="ASCII, 2 chars per register, NUL padded"),
        Point(f"{prefix}.SpeedActual", "Double", 0.0, unit=f"{spec.unit}/min", range=(0, rate_high),
              modbus=loc(ir, 0, DataType.float32, byte_order=ByteOrder.CDAB)),
        Point(f"{prefix}.ProductTemperature", "Double", 4.0, unit="degC", range=(-10, 40),
              modbus=loc(ir, 2, DataType.int16, scale=0.1), description="int16, raw × 0.1"),
        Point(f"{prefix}.Enable", "Boolean", True, modbus=loc(ModbusTable.coil, 0), writable=True,
              description="writable; false stops the machine (state idle)"),
        Point(f"{prefix}.AirPressureOk", "Boolean", True, modbus=loc(ModbusTable.discrete_input, 0)),
    ]
    for point in specs:
        point.machine = machine
    return {p.browse_name: p for p in specs}


class BreweryLine:
    """The brewery packaging line model."""

    name = "brewery"

    def __init__(self, seed: int, start: datetime, order_minutes: float = 120.0, counter_start: int = 0,
                 setpoint_entry: str = "preset") -> None:
        self.seed = seed
        self.entry = SetpointEntry(setpoint_entry)  # who enters each order's speeds (simulator/changeover.py)
        self.start = start
        self.order_seconds = order_minutes * 60.0
        self.schedule = BreakSchedule(start, TIMEZONE, BREAKS)
        self.machines_list = [
            Machine(spec, random.Random(seed * 7919 + i), _machine_points(spec)) for i, spec in enumerate(MACHINES)
        ]
        self.energy_points = {
            "Energy": Point(f"{LINE}.EnergyMeter.Energy", "Double", 0.0, unit="kWh", range=(0, 4e8),
                            modbus=ModbusLocation(ENERGY_UNIT_ID, ModbusTable.input_register, 0, DataType.uint32,
                                                  scale=0.1),
                            description="uint32, raw × 0.1 kWh", machine="energymeter"),
            "Power": Point(f"{LINE}.EnergyMeter.Power", "Double", 0.0, unit="kW", range=(0, 200),
                           modbus=ModbusLocation(ENERGY_UNIT_ID, ModbusTable.input_register, 2, DataType.float32),
                           machine="energymeter"),
        }
        self.points = [p for m in self.machines_list for p in m.points.values()] + list(self.energy_points.values())
        self.machines = {m.key: list(m.points.values()) for m in self.machines_list}
        self.machines["energymeter"] = list(self.energy_points.values())
        self.buffers = [Buffer() for _ in self.machines_list[1:]]
        self.line_rng = random.Random(seed * 104729 + 17)
        self.events: deque[StateEvent] = deque(maxlen=200_000)
        self.t = 0.0
        self.energy_kwh = 0.0
        self.order_index = 0
        self.order_started = 0.0
        self.changeover_until = 0.0
        self.energy_powered = True
        self._start_order(0.0, counter_start, first=True)
        for machine in self.machines_list:
            self._start_run(machine, 0.0)
        self._refresh_states(0.0)
        self._publish(0.0)

    # ------------------------------------------------------------------ public

    @property
    def product(self) -> Product:
        return PRODUCTS[self.order_index % len(PRODUCTS)]

    @property
    def order_number(self) -> str:
        return f"ORD{self.seed % 1000:03d}-{self.order_index + 1:05d}"

    def counters(self, machine: str) -> CounterTruth:
        return self._machine(machine).truth

    def set_power(self, machine: str, on: bool) -> None:
        if machine == "energymeter":
            self.energy_powered = on
            for point in self.energy_points.values():
                point.set_good(on)
            return
        target = self._machine(machine)
        if target.powered == on:
            return
        target.powered = on
        for point in target.points.values():
            point.set_good(on)
        self._refresh_states(self.t)

    def inject_fault(self, machine: str, fault_code: int, seconds: float) -> None:
        """Stop ``machine`` with ``fault_code`` now for ``seconds`` (a jam, a breakdown), then let it run."""
        target = self._machine(machine)
        target.fault, target.fault_code, target.own_until = True, fault_code, self.t + seconds
        self._refresh_states(self.t)

    def buffer_levels(self) -> list[float]:
        """Bottles on each conveyor now, upstream first."""
        return [buffer.at(self.t) for buffer in self.buffers]

    def next_event(self) -> float | None:
        return self._next_event_time()

    def advance(self, t: float) -> None:
        while self.t < t:
            step_end = min(t, self._next_event_time())
            self._integrate(self.t, step_end)
            self.t = step_end
            self._handle_events(step_end)
            self._refresh_states(step_end)
        self._publish(t)

    # ------------------------------------------------------------------ events

    def _machine(self, key: str) -> Machine:
        for machine in self.machines_list:
            if machine.key == key:
                return machine
        raise KeyError(f"unknown machine {key!r}")

    def _next_event_time(self) -> float:
        times = [m.own_until for m in self.machines_list]
        times.append(self.order_started + self.order_seconds)
        if self.changeover_until > self.t:
            times.append(self.changeover_until)
        times.append(self.schedule.next_boundary(self.t))
        if (typed := self.entry.next_event(self.t)) is not None:
            times.append(typed)
        times.extend(buffer.next_event() for buffer in self.buffers)
        return min(x for x in times if x > self.t)

    def _handle_events(self, t: float) -> None:
        if t >= self.order_started + self.order_seconds:
            self._start_order(t, 0)
        self.entry.apply(t)
        for machine in self.machines_list:
            if t >= machine.own_until:
                if machine.fault:
                    self._start_run(machine, t)
                else:
                    self._start_fault(machine, t)

    def _start_run(self, machine: Machine, t: float) -> None:
        machine.fault = False
        machine.fault_code = 0
        machine.efficiency = machine.rng.uniform(0.9, 1.0)
        machine.own_until = t + machine.rng.expovariate(1.0 / MEAN_RUN_SECONDS)

    def _start_fault(self, machine: Machine, t: float) -> None:
        machine.fault = True
        if machine.rng.random() < BREAKDOWN_SHARE:
            machine.fault_code = machine.rng.choice(MAJOR_FAULTS)
            duration = machine.rng.uniform(120.0, 600.0)
        else:
            machine.fault_code = machine.rng.choice(MINOR_FAULTS)
            duration = machine.rng.uniform(2.0, 8.0)
        machine.own_until = t + duration

    def _start_order(self, t: float, counter_start: int, first: bool = False) -> None:
        if not first:
            self.order_index += 1
        self.order_started = t
        self.changeover_until = t + (0.0 if first else self.line_rng.uniform(600.0, 1200.0))
        targets = []
        for machine in self.machines_list:
            machine.produced = 0.0
            machine.truth.order_good = machine.truth.order_reject = 0
            machine.reject_share = self.line_rng.uniform(0.002, 0.02)
            machine.counter_base = counter_start
            if not first:
                machine.truth.resets += 1
            rate = machine.spec.base_rate * self.product.rate_factor * SETPOINT_SHARE
            targets.append((machine.points["SpeedSetpoint"], round(rate, 1)))
        if first:
            for point, value in targets:  # the line starts set up for its first product
                point.set(value)
        self.entry.begin(self.changeover_until, targets)

    # ------------------------------------------------------------------ states and counts

    def _own_state(self, machine: Machine, t: float) -> str | None:
        """The state of a machine down for its own reason (None: it can run)."""
        if not machine.powered:
            return "off"
        if self.schedule.in_break(t):
            return "planned_stop"
        if t < self.changeover_until or not self.entry.ready():
            return "changeover"
        if machine.fault:
            return "fault"
        if not machine.points["Enable"].value:
            return "idle"
        return None

    def _flows(self, t: float, own: list[str | None]) -> list[float]:
        """Bottles/s each machine processes: its own rate, but no more than its upstream neighbour
        delivers while its input buffer is empty, nor than its downstream one takes while its
        output buffer is full (repeated until nothing changes)."""
        flows = [self._rate(m) * m.spec.bottles_per_unit if state is None else 0.0
                 for m, state in zip(self.machines_list, own, strict=True)]  # fmt: skip
        empty = [b.empty(t) for b in self.buffers]
        full = [b.full(t) for b in self.buffers]
        changed = True
        while changed:
            changed = False
            for i in range(1, len(flows)):
                if empty[i - 1] and flows[i] > flows[i - 1]:
                    flows[i], changed = flows[i - 1], True
            for i in range(len(flows) - 2, -1, -1):
                if full[i] and flows[i] > flows[i + 1]:
                    flows[i], changed = flows[i + 1], True
        return flows

    def _state_of(self, index: int, t: float, own: str | None, flows: list[float]) -> str:
        if own is not None:
            return own
        if flows[index] > 0:
            return "running"
        if index > 0 and self.buffers[index - 1].empty(t) and flows[index - 1] == 0:
            return "starved"
        if index < len(self.buffers) and self.buffers[index].full(t):
            return "blocked"
        return "idle"  # a speed setpoint of 0

    def _refresh_states(self, t: float) -> None:
        own = [self._own_state(m, t) for m in self.machines_list]
        flows = self._flows(t, own)
        for index, buffer in enumerate(self.buffers):
            net = flows[index] - flows[index + 1]
            if net != buffer.flow:
                buffer.rebase(t, net)
        for index, machine in enumerate(self.machines_list):
            machine.flow = flows[index]
            state = self._state_of(index, t, own[index], flows)
            if state != machine.state:
                machine.state = state
                code = machine.fault_code if state == "fault" else 0
                self.events.append(StateEvent(t, self._time_at(t), machine.key, state, code))

    def _time_at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def _rate(self, machine: Machine) -> float:
        """Units per second while running."""
        return max(float(machine.points["SpeedSetpoint"].value), 0.0) * machine.efficiency / 60.0

    def _integrate(self, a: float, b: float) -> None:
        dt = b - a
        if dt <= 0:
            return
        running = 0
        for machine in self.machines_list:
            if machine.state != "running":
                continue
            running += 1
            machine.produced += machine.flow / machine.spec.bottles_per_unit * dt
            total = math.floor(machine.produced)
            reject = math.floor(total * machine.reject_share)
            good = total - reject
            truth = machine.truth
            truth.good += good - truth.order_good
            truth.reject += reject - truth.order_reject
            truth.order_good, truth.order_reject = good, reject
        if self.energy_powered:
            self.energy_kwh += self._power(running) * dt / 3600.0

    def _power(self, running: int) -> float:
        idle = sum(1 for m in self.machines_list if m.powered)
        return 8.0 + 2.0 * idle + 9.5 * running

    def _publish(self, t: float) -> None:
        when = self._time_at(t)
        for machine in self.machines_list:
            points = machine.points
            state = machine.state
            running = state == "running"
            if state != "off":
                points["State"].set(STATE_CODES[state], when)
            points["FaultCode"].set(machine.fault_code if machine.fault else 0, when)
            points["Running"].set(running, when)
            points["Faulted"].set(state == "fault", when)
            points["Blocked"].set(state == "blocked", when)
            points["Starved"].set(state == "starved", when)
            points["ProductCode"].set(self.product.code, when)
            modulus = 1 << machine.spec.counter_bits
            points["GoodCount"].set((machine.counter_base + machine.truth.order_good) % modulus, when)
            points["RejectCount"].set(machine.truth.order_reject % modulus, when)
            points["OrderNumber"].set(self.order_number, when)
            key = key_of(points["SpeedActual"].name)
            if running:
                actual = machine.flow / machine.spec.bottles_per_unit * 60.0 * (1.0 + 0.01 * noise(self.seed, key, t,
                                                                                                 2.0))
                points["SpeedActual"].set(round(actual, 2), when)
            else:
                points["SpeedActual"].set(0.0, when)
            temperature = 4.0 + 0.8 * noise(self.seed, key + 1, t, 30.0)
            points["ProductTemperature"].set(round(temperature, 1), when)
            points["AirPressureOk"].set(not (machine.fault and machine.fault_code == AIR_PRESSURE_FAULT), when)
            for point in points.values():
                point.time = when
        machines_running = sum(1 for m in self.machines_list if m.state == "running")
        power = self._power(machines_running) * (1.0 + 0.02 * noise(self.seed, 99, t, 1.0))
        self.energy_points["Power"].set(round(power, 2), when)
        self.energy_points["Energy"].set(round(self.energy_kwh, 1), when)
        for point in self.energy_points.values():
            point.time = when
