"""Process unit: a graphite impregnation / curing line.

An autoclave runs batches: load → evacuate → fill resin → pressurize → cure →
cool → unload, each phase a seeded duration. Temperatures and pressures follow
their targets as first-order lags (computed in closed form, so values depend on
simulated time only), with measurement noise and slow sensor drift. A two-zone
curing oven holds its writable zone setpoints. Setpoints written over Modbus or
OPC UA are read back and steer the process from that moment.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.config.models import ByteOrder, DataType, ModbusTable
from simulator.model import STATE_CODES, StateEvent
from simulator.noise import drift, key_of, noise
from simulator.points import ModbusLocation, Point

AREA = "Impregnation.CuringLine"
AUTOCLAVE_UNIT = 10
OVEN_UNIT = 11
AMBIENT = 22.0

# phase: (name, mean duration s, line state)
PHASES = (
    ("load", 600.0, "changeover"),
    ("evacuate", 900.0, "running"),
    ("fill", 600.0, "running"),
    ("pressurize", 600.0, "running"),
    ("cure", 3600.0, "running"),
    ("cool", 1200.0, "running"),
    ("unload", 600.0, "changeover"),
)


@dataclass
class Lag:
    """First-order lag toward a target, exact in closed form: x(t) = target + (x0 − target)·e^(−(t−t0)/tau)."""

    value0: float
    target: float
    tau: float
    t0: float = 0.0

    def at(self, t: float) -> float:
        return self.target + (self.value0 - self.target) * math.exp(-(t - self.t0) / self.tau)

    def retarget(self, t: float, target: float, tau: float | None = None) -> None:
        self.value0 = self.at(t)
        self.t0 = t
        self.target = target
        if tau is not None:
            self.tau = tau


def _hr(unit: int, address: int, data_type: DataType = DataType.float32, **kw) -> ModbusLocation:
    return ModbusLocation(unit, ModbusTable.holding_register, address, data_type, **kw)


def _ir(unit: int, address: int, data_type: DataType = DataType.float32, **kw) -> ModbusLocation:
    return ModbusLocation(unit, ModbusTable.input_register, address, data_type, **kw)


class CuringLine:
    name = "process"

    def __init__(self, seed: int, start: datetime) -> None:
        self.seed = seed
        self.start = start
        self.rng = random.Random(seed * 31337 + 3)
        a, o = f"{AREA}.Autoclave", f"{AREA}.CuringOven"
        cdab = ByteOrder.CDAB
        autoclave = [
            Point(f"{a}.State", "UInt16", STATE_CODES["idle"], modbus=_hr(AUTOCLAVE_UNIT, 0, DataType.uint16),
                  description="1 running (batch in process), 5 changeover (load/unload)"),
            Point(f"{a}.BatchPhase", "UInt16", 0, modbus=_hr(AUTOCLAVE_UNIT, 1, DataType.uint16),
                  description="0 load, 1 evacuate, 2 fill, 3 pressurize, 4 cure, 5 cool, 6 unload"),
            Point(f"{a}.BatchNumber", "UInt32", 0, modbus=_hr(AUTOCLAVE_UNIT, 2, DataType.uint32)),
            Point(f"{a}.BatchId", "String", "", modbus=_hr(AUTOCLAVE_UNIT, 4, DataType.string, length=6)),
            Point(f"{a}.TemperatureSetpoint", "Double", 160.0, unit="degC", range=(20, 200), writable=True,
                  write_limits=(20, 200), modbus=_hr(AUTOCLAVE_UNIT, 20)),
            Point(f"{a}.PressureSetpoint", "Double", 6.0, unit="bar", range=(0, 12), writable=True,
                  write_limits=(0, 12), modbus=_hr(AUTOCLAVE_UNIT, 22)),
            Point(f"{a}.Temperature", "Double", AMBIENT, unit="degC", range=(0, 250), modbus=_ir(AUTOCLAVE_UNIT, 0)),
            Point(f"{a}.Pressure", "Double", 1.0, unit="bar", range=(0, 15),
                  modbus=_ir(AUTOCLAVE_UNIT, 2, byte_order=cdab)),
            Point(f"{a}.Vacuum", "Double", 1013.0, unit="mbar", range=(0, 1100),
                  modbus=_ir(AUTOCLAVE_UNIT, 4, DataType.uint16), description="absolute pressure, uint16"),
            Point(f"{a}.ResinFlow", "Double", 0.0, unit="l/min", range=(0, 200),
                  modbus=_ir(AUTOCLAVE_UNIT, 5, DataType.int16, scale=0.1)),
            Point(f"{a}.ResinTankLevel", "Double", 80.0, unit="%", range=(0, 100),
                  modbus=_ir(AUTOCLAVE_UNIT, 6, DataType.uint16, scale=0.01)),
            Point(f"{a}.HeaterPower", "Double", 0.0, unit="kW", range=(0, 250),
                  modbus=_ir(AUTOCLAVE_UNIT, 8, byte_order=cdab)),
            Point(f"{a}.HeaterEnable", "Boolean", True, writable=True,
                  modbus=ModbusLocation(AUTOCLAVE_UNIT, ModbusTable.coil, 0),
                  description="writable; false lets the autoclave cool"),
            Point(f"{a}.DoorClosed", "Boolean", True,
                  modbus=ModbusLocation(AUTOCLAVE_UNIT, ModbusTable.discrete_input, 0)),
        ]
        oven = [
            Point(f"{o}.Zone1Setpoint", "Double", 180.0, unit="degC", range=(20, 250), writable=True,
                  write_limits=(20, 250), modbus=_hr(OVEN_UNIT, 0)),
            Point(f"{o}.Zone2Setpoint", "Double", 200.0, unit="degC", range=(20, 250), writable=True,
                  write_limits=(20, 250), modbus=_hr(OVEN_UNIT, 2)),
            Point(f"{o}.Zone1Temperature", "Double", AMBIENT, unit="degC", range=(0, 300),
                  modbus=_ir(OVEN_UNIT, 0, DataType.int16, scale=0.1)),
            Point(f"{o}.Zone2Temperature", "Double", AMBIENT, unit="degC", range=(0, 300),
                  modbus=_ir(OVEN_UNIT, 1, DataType.int16, scale=0.1)),
            Point(f"{o}.ConveyorSpeed", "Double", 1.2, unit="m/min", range=(0, 5), modbus=_ir(OVEN_UNIT, 2)),
            Point(f"{o}.ExhaustFlow", "Double", 1500.0, unit="m3/h", range=(0, 4000), modbus=_ir(OVEN_UNIT, 4)),
            Point(f"{o}.ConveyorPosition", "Int32", 0, unit="mm",
                  modbus=_ir(OVEN_UNIT, 6, DataType.int32, byte_order=ByteOrder.CDAB),
                  description="int32 CDAB; encoder counts in mm, wraps at 2^31 to negative"),
        ]
        for point in autoclave:
            point.machine = "autoclave"
        for point in oven:
            point.machine = "curingoven"
        # "Autoclave.Temperature" → point: the model's own short names for its signals
        self.signals = {p.name.rsplit(".", 2)[-2] + "." + p.browse_name: p for p in autoclave + oven}
        self.points = autoclave + oven
        self.machines = {"autoclave": autoclave, "curingoven": oven}
        self.events: deque[StateEvent] = deque(maxlen=100_000)
        self.powered = {"autoclave": True, "curingoven": True}
        self.t = 0.0
        self.batch = 1
        self.phase = 0
        self.phase_end = self._duration(0)
        self.temperature = Lag(AMBIENT, AMBIENT, 900.0)
        self.pressure = Lag(1.0, 1.0, 120.0)
        self.vacuum = Lag(1013.0, 1013.0, 180.0)
        self.zone1 = Lag(AMBIENT, 180.0, 1200.0)
        self.zone2 = Lag(AMBIENT, 200.0, 1200.0)
        self.tank = 80.0
        self.setpoints = (160.0, 6.0, 180.0, 200.0, True)
        self._log_state(0.0)
        self._publish(0.0)

    def _duration(self, phase: int) -> float:
        mean = PHASES[phase][1]
        return self.rng.uniform(0.8 * mean, 1.2 * mean)

    def set_power(self, machine: str, on: bool) -> None:
        self.powered[machine] = on
        for point in self.machines[machine]:
            point.set_good(on)

    def _targets(self, t: float) -> None:
        """Point every lag at what the current phase and setpoints ask for."""
        temp_sp = float(self.signals["Autoclave.TemperatureSetpoint"].value)
        press_sp = float(self.signals["Autoclave.PressureSetpoint"].value)
        heating = bool(self.signals["Autoclave.HeaterEnable"].value)
        name = PHASES[self.phase][0]
        temp_target = temp_sp if name in ("cure", "pressurize") and heating else (60.0 if name == "fill" else AMBIENT)
        self.temperature.retarget(t, temp_target)
        self.pressure.retarget(t, press_sp if name in ("pressurize", "cure") else 1.0)
        self.vacuum.retarget(t, 20.0 if name in ("evacuate", "fill") else 1013.0)
        self.zone1.retarget(t, float(self.signals["CuringOven.Zone1Setpoint"].value))
        self.zone2.retarget(t, float(self.signals["CuringOven.Zone2Setpoint"].value))

    def _setpoints(self) -> tuple:
        return (
            self.signals["Autoclave.TemperatureSetpoint"].value,
            self.signals["Autoclave.PressureSetpoint"].value,
            self.signals["CuringOven.Zone1Setpoint"].value,
            self.signals["CuringOven.Zone2Setpoint"].value,
            self.signals["Autoclave.HeaterEnable"].value,
        )

    def next_event(self) -> float | None:
        return self.phase_end

    def advance(self, t: float) -> None:
        if self._setpoints() != self.setpoints:
            self.setpoints = self._setpoints()
            self._targets(self.t)
        while self.phase_end <= t:
            boundary = self.phase_end
            if PHASES[self.phase][0] == "fill":
                self.tank = max(5.0, self.tank - 25.0)
            self.phase = (self.phase + 1) % len(PHASES)
            if self.phase == 0:
                self.batch += 1
                self.tank = 80.0 if self.tank < 30.0 else self.tank
            self.phase_end = boundary + self._duration(self.phase)
            self._targets(boundary)
            self._log_state(boundary)
        self.t = t
        self._publish(t)

    def _log_state(self, t: float) -> None:
        state = PHASES[self.phase][2]
        self.events.append(StateEvent(t, self.start + timedelta(seconds=t), "autoclave", state, 0))

    def _publish(self, t: float) -> None:
        when = self.start + timedelta(seconds=t)
        p, seed = self.signals, self.seed
        name = PHASES[self.phase][0]

        def measured(point: Point, value: float, amplitude: float, digits: int = 2) -> None:
            key = key_of(point.name)
            sensor = value + amplitude * noise(seed, key, t, 2.0) + 2 * amplitude * drift(seed, key, t, 6 * 3600.0)
            point.set(round(sensor, digits), when)

        p["Autoclave.State"].set(STATE_CODES[PHASES[self.phase][2]], when)
        p["Autoclave.BatchPhase"].set(self.phase, when)
        p["Autoclave.BatchNumber"].set(self.batch, when)
        p["Autoclave.BatchId"].set(f"B{self.batch:06d}", when)
        measured(p["Autoclave.Temperature"], self.temperature.at(t), 0.3)
        measured(p["Autoclave.Pressure"], self.pressure.at(t), 0.02, 3)
        p["Autoclave.Vacuum"].set(round(max(self.vacuum.at(t), 0.0)), when)
        flow = 80.0 * (1 + 0.05 * noise(seed, 7, t, 5.0)) if name == "fill" else 0.0
        p["Autoclave.ResinFlow"].set(round(flow, 1), when)
        p["Autoclave.ResinTankLevel"].set(round(self.tank, 2), when)
        heating = self.temperature.target > self.temperature.at(t) + 0.5
        p["Autoclave.HeaterPower"].set(round(180.0 if heating else 15.0 if name == "cure" else 0.0, 1), when)
        p["Autoclave.DoorClosed"].set(name not in ("load", "unload"), when)
        measured(p["CuringOven.Zone1Temperature"], self.zone1.at(t), 0.5, 1)
        measured(p["CuringOven.Zone2Temperature"], self.zone2.at(t), 0.5, 1)
        measured(p["CuringOven.ConveyorSpeed"], 1.2, 0.01, 3)
        measured(p["CuringOven.ExhaustFlow"], 1500.0, 20.0, 0)
        position = int(1.2 * 1000.0 / 60.0 * t) + (1 << 31) - 50_000  # starts 50 m before the wrap
        p["CuringOven.ConveyorPosition"].set((position + (1 << 31)) % (1 << 32) - (1 << 31), when)
