"""Utilities and condition monitoring: a plant energy meter and motors whose bearings wear.

Each motor's bearing wear grows linearly from a seeded start to 1 over its
life, then the bearing is replaced (wear back to 0, a ``bearing_replaced``
event). Vibration RMS grows with wear³ and bearing temperature with wear², so
a predictive alarm sees a slow rise long before the replacement. Motor03 wears
out within simulated hours; the others take weeks. Motor04 is a compressor
that cycles on and off.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from collectors.config.models import ByteOrder, DataType, ModbusTable
from simulator.model import StateEvent
from simulator.noise import drift, hash_unit, key_of, noise
from simulator.points import ModbusLocation, Point

AREA = "Utilities"
METER_UNIT = 20
FIRST_MOTOR_UNIT = 21
MOTORS = 6
FAST_WEAR_MOTOR = 3
COMPRESSOR_MOTOR = 4
# The compressor's own sub-meter: a kWh counter in one uint16 register x 0.1, so it rolls over at
# 6,553.6 kWh (starting near the top, it wraps within hours); it draws a base load while unloaded.
COMPRESSOR_METER_UNIT = 27
COMPRESSOR_METER_START = 6500.0
COMPRESSOR_METER_WRAP = 6553.6
COMPRESSOR_BASE_KW = 1.5  # controls and dryer, also while the compressor is off
COMPRESSOR_LOADED_KW = 15.0


def _loc(unit: int, table: ModbusTable, address: int, data_type: DataType = DataType.uint16, **kw) -> ModbusLocation:
    return ModbusLocation(unit, table, address, data_type, **kw)


class Utilities:
    name = "utilities"

    def __init__(self, seed: int, start: datetime) -> None:
        self.seed = seed
        self.start = start
        ir, hr = ModbusTable.input_register, ModbusTable.holding_register
        m = f"{AREA}.Energy.MainMeter"
        meter = [
            Point(f"{m}.Energy", "Double", 125000.0, unit="kWh", range=(0, 4.2e7),
                  modbus=_loc(METER_UNIT, ir, 0, DataType.uint32, byte_order=ByteOrder.CDAB, scale=0.01),
                  description="uint32 CDAB, raw × 0.01 kWh; wraps at 42,949,672.95"),
            Point(f"{m}.Power", "Double", 0.0, unit="kW", range=(0, 2000),
                  modbus=_loc(METER_UNIT, ir, 2, DataType.float32, byte_order=ByteOrder.CDAB)),
            Point(f"{m}.Voltage", "Double", 400.0, unit="V", range=(0, 500),
                  modbus=_loc(METER_UNIT, ir, 4, DataType.uint16, scale=0.1)),
            Point(f"{m}.PowerFactor", "Double", 0.92, unit="", range=(-1, 1),
                  modbus=_loc(METER_UNIT, ir, 5, DataType.int16, scale=0.001)),
            Point(f"{m}.Frequency", "Double", 50.0, unit="Hz", range=(45, 55),
                  modbus=_loc(METER_UNIT, ir, 6, DataType.uint16, scale=0.01)),
            Point(f"{m}.ReactivePower", "Double", 0.0, unit="kvar", range=(-500, 500),
                  modbus=_loc(METER_UNIT, ir, 8, DataType.int32, scale=0.01),
                  description="int32 ABCD, raw × 0.01 kvar; negative when capacitive"),
        ]
        for point in meter:
            point.machine = "mainmeter"
        self.meter = {p.browse_name: p for p in meter}
        self.machines: dict[str, list[Point]] = {"mainmeter": meter}
        self.motor_points: list[dict[str, Point]] = []
        self.life: list[float] = []
        self.wear0: list[float] = []
        for index in range(1, MOTORS + 1):
            unit = FIRST_MOTOR_UNIT + index - 1
            name = f"{AREA}.Motors.Motor{index:02d}"
            points = [
                Point(f"{name}.Running", "Boolean", True, modbus=_loc(unit, ModbusTable.discrete_input, 0)),
                Point(f"{name}.VibrationRms", "Double", 1.5, unit="mm/s", range=(0, 50),
                      modbus=_loc(unit, ir, 0, DataType.uint16, scale=0.01), description="ISO 10816 velocity RMS"),
                Point(f"{name}.BearingTemperature", "Double", 40.0, unit="degC", range=(-20, 150),
                      modbus=_loc(unit, ir, 1, DataType.int16, scale=0.1)),
                Point(f"{name}.Current", "Double", 0.0, unit="A", range=(0, 100),
                      modbus=_loc(unit, ir, 2, DataType.float32)),
                Point(f"{name}.Speed", "Double", 0.0, unit="rpm", range=(0, 3000),
                      modbus=_loc(unit, ir, 4, DataType.uint16)),
                Point(f"{name}.RunHours", "Double", 0.0, unit="h", range=(0, 1e6),
                      modbus=_loc(unit, hr, 0, DataType.uint32, scale=0.1)),
                Point(f"{name}.BearingReplacements", "UInt16", 0, modbus=_loc(unit, hr, 2)),
            ]
            machine = f"motor{index:02d}"
            for point in points:
                point.machine = machine
            self.machines[machine] = points
            self.motor_points.append({p.browse_name: p for p in points})
            days = 0.25 if index == FAST_WEAR_MOTOR else 20.0 + 15.0 * (hash_unit(seed, index, 7) + 1)
            self.life.append(days * 86400.0)
            self.wear0.append(0.55 * (hash_unit(seed, index, 11) + 1) / 2)
        sub = f"{AREA}.Energy.CompressorMeter"
        self.compressor_meter = {p.browse_name: p for p in [
            Point(f"{sub}.Energy", "Double", COMPRESSOR_METER_START, unit="kWh", range=(0, COMPRESSOR_METER_WRAP),
                  modbus=_loc(COMPRESSOR_METER_UNIT, ir, 0, DataType.uint16, scale=0.1),
                  description="uint16 x 0.1 kWh; wraps at 6,553.6"),
            Point(f"{sub}.Power", "Double", 0.0, unit="kW", range=(0, 100),
                  modbus=_loc(COMPRESSOR_METER_UNIT, ir, 1, DataType.uint16, scale=0.1)),
        ]}  # fmt: skip
        for point in self.compressor_meter.values():
            point.machine = "compressormeter"
        self.machines["compressormeter"] = list(self.compressor_meter.values())
        self.points = [p for points in self.machines.values() for p in points]
        self.events: deque[StateEvent] = deque(maxlen=100_000)
        self.replacements = [0] * MOTORS
        self.t = 0.0
        self._publish(0.0)

    def set_power(self, machine: str, on: bool) -> None:
        for point in self.machines[machine]:
            point.set_good(on)

    def wear(self, motor: int, t: float) -> float:
        """Bearing wear of motor index ``motor`` (0-based) in [0, 1], for a ``t`` the model has reached."""
        position = self.wear0[motor] + t / self.life[motor] - self.replacements[motor]
        return min(max(position, 0.0), 1.0)

    def _running(self, motor: int, t: float) -> bool:
        if motor + 1 != COMPRESSOR_MOTOR:
            return True
        return (t % 900.0) < 600.0  # 10 min loaded, 5 min off

    def _run_seconds(self, motor: int, t: float) -> float:
        if motor + 1 != COMPRESSOR_MOTOR:
            return t
        cycles, rest = divmod(t, 900.0)
        return cycles * 600.0 + min(rest, 600.0)

    def _replacement_time(self, motor: int) -> float:
        """Elapsed time of the motor's next bearing replacement (one expression, so comparisons are exact)."""
        return (self.replacements[motor] + 1 - self.wear0[motor]) * self.life[motor]

    def next_event(self) -> float | None:
        replacements = [self._replacement_time(m) for m in range(MOTORS)]
        compressor = (math.floor(self.t / 300.0) + 1) * 300.0  # on/off edges fall on multiples of 5 min
        return min([*replacements, compressor])

    def advance(self, t: float) -> None:
        for motor in range(MOTORS):
            while t >= self._replacement_time(motor):
                when = self._replacement_time(motor)
                self.replacements[motor] += 1
                self.events.append(StateEvent(when, self.start + timedelta(seconds=when), f"motor{motor + 1:02d}",
                                              "bearing_replaced", 0))
        self.t = t
        self._publish(t)

    def _power(self, t: float) -> float:
        return sum(11.0 + 4.0 * self.wear(m, t) for m in range(MOTORS) if self._running(m, t)) + 140.0

    def _energy(self, t: float) -> float:
        """kWh since start: the constant base plus the motors' load, integrated in closed form."""
        base = 140.0 * t / 3600.0
        motors = 0.0
        for m in range(MOTORS):
            run = self._run_seconds(m, t)
            motors += 11.0 * run / 3600.0 + 4.0 * 0.5 * run / 3600.0  # mean wear term ≈ 0.5
        return 125000.0 + base + motors

    def compressor_kwh(self, t: float) -> float:
        """kWh the compressor's sub-meter has counted since start (base load plus the loaded share)."""
        run = self._run_seconds(COMPRESSOR_MOTOR - 1, t)
        return (COMPRESSOR_BASE_KW * t + (COMPRESSOR_LOADED_KW - COMPRESSOR_BASE_KW) * run) / 3600.0

    def _publish_compressor_meter(self, t: float, when: datetime) -> None:
        loaded = self._running(COMPRESSOR_MOTOR - 1, t)
        reading = (COMPRESSOR_METER_START + self.compressor_kwh(t)) % COMPRESSOR_METER_WRAP
        self.compressor_meter["Energy"].set(math.floor(reading * 10) / 10, when)  # a register holds whole 0.1s
        self.compressor_meter["Power"].set(COMPRESSOR_LOADED_KW if loaded else COMPRESSOR_BASE_KW, when)

    def _publish(self, t: float) -> None:
        when = self.start + timedelta(seconds=t)
        seed = self.seed
        meter = self.meter
        power = self._power(t)
        meter["Power"].set(round(power * (1 + 0.01 * noise(seed, 1, t)), 2), when)
        meter["Energy"].set(round(self._energy(t), 2), when)
        self._publish_compressor_meter(t, when)
        meter["Voltage"].set(round(400.0 + 4.0 * noise(seed, 2, t, 5.0), 1), when)
        meter["PowerFactor"].set(round(0.92 + 0.02 * noise(seed, 3, t, 30.0), 3), when)
        meter["Frequency"].set(round(50.0 + 0.03 * noise(seed, 4, t, 3.0), 2), when)
        reactive = 60.0 * drift(seed, 6, t, 4 * 3600.0) + 5.0 * noise(seed, 7, t, 2.0)
        meter["ReactivePower"].set(round(reactive, 2), when)
        ambient = 25.0 + 5.0 * drift(seed, 5, t, 86400.0)
        for motor, points in enumerate(self.motor_points):
            running = self._running(motor, t)
            wear = self.wear(motor, t)
            key = key_of(points["VibrationRms"].name)
            vibration = (1.4 + 0.2 * motor) * (1 + 5.0 * wear**3) * (1 + 0.08 * noise(seed, key, t, 1.0))
            temperature = ambient + (18.0 + 30.0 * wear**2 if running else 3.0) + 0.4 * noise(seed, key + 1, t, 10.0)
            points["Running"].set(running, when)
            points["VibrationRms"].set(round(vibration if running else 0.05, 2), when)
            points["BearingTemperature"].set(round(temperature, 1), when)
            current = (21.0 + 3.0 * wear) * (1 + 0.02 * noise(seed, key + 2, t)) if running else 0.0
            points["Current"].set(round(current, 2), when)
            points["Speed"].set(1480 if running else 0, when)
            points["RunHours"].set(round(self._run_seconds(motor, t) / 3600.0, 1), when)
            points["BearingReplacements"].set(self.replacements[motor], when)
