"""Scale mode: N extra tags that all change every ``scale_interval`` for benchmarks.

Tag ``i`` (0-based) has, after ``cycle`` changes, the value
``(7 × i + seed + 13 × cycle) mod 65536`` on both protocols, so a benchmark can
check any sample it stored without asking the simulator.

Modbus: holding registers (uint16) of unit ids 100, 101, ... with 10,000 tags
per unit (tag i → unit 100 + i // 10000, address i % 10000); each cycle rewrites
the registers in one slice assignment per unit. OPC UA: UInt16 variables
``ns=2;s=Scale.G<i // 500>.T<i>`` in folders of 500 (asyncua slows down badly
with many siblings under one parent).
"""

from __future__ import annotations

from array import array

from collectors.config.models import DataType, ModbusTable
from simulator.points import ModbusLocation, Point
from simulator.registers import UnitBank

FIRST_UNIT = 100
TAGS_PER_UNIT = 10_000
TAGS_PER_FOLDER = 500


def scale_value(index: int, cycle: int, seed: int) -> int:
    return (7 * index + seed + 13 * cycle) & 0xFFFF


def modbus_location(index: int) -> ModbusLocation:
    return ModbusLocation(FIRST_UNIT + index // TAGS_PER_UNIT, ModbusTable.holding_register,
                          index % TAGS_PER_UNIT, DataType.uint16)


def opcua_name(index: int) -> str:
    return f"Scale.G{index // TAGS_PER_FOLDER:03d}.T{index:05d}"


class ScaleTags:
    def __init__(self, count: int, seed: int, protocols: tuple[str, ...]) -> None:
        self.count = count
        self.seed = seed
        self.cycle = 0
        self.banks: dict[int, UnitBank] = {}
        self._bases: dict[int, list[int]] = {}
        if "modbus" in protocols:
            for start in range(0, count, TAGS_PER_UNIT):
                size = min(TAGS_PER_UNIT, count - start)
                unit_id = FIRST_UNIT + start // TAGS_PER_UNIT
                bank = UnitBank(unit_id)
                self._bases[unit_id] = [scale_value(i, 0, seed) for i in range(start, start + size)]
                bank.holding = array("H", self._bases[unit_id])
                self.banks[unit_id] = bank
        self.points: list[Point] = []
        if "opcua" in protocols:
            self.points = [
                Point(opcua_name(i), "UInt16", scale_value(i, 0, seed), description="scale tag") for i in range(count)
            ]

    def step(self) -> None:
        """One change of every scale tag: registers rewritten in bulk, OPC UA values prepared."""
        self.cycle += 1
        delta = (13 * self.cycle) & 0xFFFF
        for unit_id, bases in self._bases.items():
            self.banks[unit_id].holding[:] = array("H", [(b + delta) & 0xFFFF for b in bases])

    def opcua_values(self) -> list[int]:
        delta = 13 * self.cycle
        base = self.seed
        return [(7 * i + base + delta) & 0xFFFF for i in range(len(self.points))]

    def folders(self) -> list[tuple[str, ...]]:
        return [("Scale", f"G{g:03d}") for g in range(-(-len(self.points) // TAGS_PER_FOLDER))]
