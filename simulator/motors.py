"""A paint shop's motor fleet for condition monitoring: vibration, bearing temperature and torque.

Six motors (fans, pumps, a conveyor drive) run all the time. Three are healthy;
three have a bearing that starts to wear on a given day and then wears
exponentially, each at its own rate, as real bearings do (a slow rise over
days to weeks, accelerating). Vibration velocity RMS (mm/s, ISO 20816-3) is

    v(t) = v0 · (1 + 3 % noise) + A · (exp(r · (t − onset)) − 1)   for t ≥ onset

with ``A`` chosen so the noise-free curve crosses the motor's zone C/D boundary
on ``days_to_d``. Bearing temperature follows the vibration excess a day later;
torque rises a little with wear. :meth:`MotorFleet.time_to_reach` is the
ground truth a test compares a forecast with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from collectors.config.models import DataType, ModbusTable
from simulator.noise import drift, key_of, noise
from simulator.points import ModbusLocation, Point

AREA = "PaintShop.Motors"
FIRST_UNIT = 40
DAY = 86400.0


@dataclass(frozen=True)
class MotorSpec:
    """One motor: its healthy level, its ISO 20816-3 class, and when (if ever) its bearing wears out."""

    name: str
    v0: float  # healthy velocity RMS, mm/s
    group: int
    foundation: str
    zone_d: float  # C/D boundary of its class, mm/s
    torque: float  # nominal torque, Nm
    onset_days: float | None = None  # None: healthy
    days_to_d: float = 0.0  # from the start of the run to the C/D crossing
    rate_per_day: float = 0.0


FLEET: tuple[MotorSpec, ...] = (
    MotorSpec("M01", 1.1, 2, "rigid", 4.5, 95.0),
    MotorSpec("M02", 1.3, 2, "rigid", 4.5, 140.0, onset_days=10, days_to_d=45, rate_per_day=0.12),
    MotorSpec("M03", 2.0, 1, "flexible", 11.0, 610.0),
    MotorSpec("M04", 1.2, 2, "rigid", 4.5, 120.0, onset_days=5, days_to_d=25, rate_per_day=0.2),
    MotorSpec("M05", 0.9, 2, "flexible", 7.1, 60.0),
    MotorSpec("M06", 2.4, 1, "rigid", 7.1, 480.0, onset_days=15, days_to_d=35, rate_per_day=0.16),
)


def _ir(unit: int, address: int, data_type: DataType, **kw: float) -> ModbusLocation:
    return ModbusLocation(unit, ModbusTable.input_register, address, data_type, **kw)  # type: ignore[arg-type]


class MotorFleet:
    name = "motors"

    def __init__(self, seed: int, start: datetime, fleet: tuple[MotorSpec, ...] = FLEET) -> None:
        self.seed = seed
        self.start = start
        self.fleet = fleet
        self.machines: dict[str, list[Point]] = {}
        self.signals: list[dict[str, Point]] = []
        for index, spec in enumerate(fleet):
            unit, base = FIRST_UNIT + index, f"{AREA}.{spec.name}"
            points = [
                Point(f"{base}.Running", "Boolean", True,
                      modbus=ModbusLocation(unit, ModbusTable.discrete_input, 0)),
                Point(f"{base}.VibrationVelocity", "Double", spec.v0, unit="mm/s", range=(0, 50),
                      modbus=_ir(unit, 0, DataType.uint16, scale=0.01),
                      description="velocity RMS 10–1000 Hz on the drive-end bearing housing (ISO 20816-3)"),
                Point(f"{base}.BearingTemperature", "Double", 35.0, unit="degC", range=(-20, 150),
                      modbus=_ir(unit, 1, DataType.int16, scale=0.1)),
                Point(f"{base}.Torque", "Double", spec.torque, unit="Nm", range=(0, 5000),
                      modbus=_ir(unit, 2, DataType.float32)),
            ]  # fmt: skip
            for point in points:
                point.machine = spec.name.lower()
            self.machines[spec.name.lower()] = points
            self.signals.append({p.browse_name: p for p in points})
        self.points = [p for points in self.machines.values() for p in points]
        self.powered = {name: True for name in self.machines}
        self._publish(0.0)

    # ------------------------------------------------------------------ ground truth

    def amplitude(self, spec: MotorSpec) -> float:
        """``A`` of the wear term: the noise-free curve meets C/D at ``days_to_d``."""
        if spec.onset_days is None:
            return 0.0
        grown = math.exp(spec.rate_per_day * (spec.days_to_d - spec.onset_days)) - 1.0
        return (spec.zone_d - spec.v0) / grown

    def clean_velocity(self, spec: MotorSpec, t: float) -> float:
        """Velocity RMS without noise at ``t`` s after start."""
        if spec.onset_days is None or t < spec.onset_days * DAY:
            return spec.v0
        return spec.v0 + self.amplitude(spec) * (math.exp(spec.rate_per_day * (t / DAY - spec.onset_days)) - 1.0)

    def time_to_reach(self, name: str, velocity: float) -> float | None:
        """Seconds after start when motor ``name``'s noise-free velocity reaches ``velocity`` (None: never)."""
        spec = next(s for s in self.fleet if s.name == name)
        if velocity <= spec.v0:
            return 0.0
        if spec.onset_days is None:
            return None
        days = spec.onset_days + math.log1p((velocity - spec.v0) / self.amplitude(spec)) / spec.rate_per_day
        return days * DAY

    # ------------------------------------------------------------------ the model protocol

    def set_power(self, machine: str, on: bool) -> None:
        self.powered[machine] = on
        for point in self.machines[machine]:
            point.set_good(on)

    def next_event(self) -> float | None:
        return None

    def advance(self, t: float) -> None:
        self._publish(t)

    def _publish(self, t: float) -> None:
        when = self.start + timedelta(seconds=t)
        seed = self.seed
        ambient = 24.0 + 4.0 * drift(seed, 91, t, DAY)
        for spec, points in zip(self.fleet, self.signals, strict=True):
            key = key_of(points["VibrationVelocity"].name)
            excess = self.clean_velocity(spec, t) - spec.v0
            vibration = spec.v0 * (1 + 0.03 * noise(seed, key, t, 600.0)) + excess
            lagged = self.clean_velocity(spec, max(t - DAY, 0.0)) - spec.v0
            temperature = ambient + 12.0 + 6.0 * lagged + 0.3 * noise(seed, key + 1, t, 900.0)
            torque = spec.torque * (1 + 0.02 * noise(seed, key + 2, t, 300.0)) + 0.8 * excess
            points["Running"].set(True, when)
            points["VibrationVelocity"].set(round(vibration, 2), when)
            points["BearingTemperature"].set(round(temperature, 1), when)
            points["Torque"].set(round(torque, 1), when)
