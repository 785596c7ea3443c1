"""Register banks: the memory of each simulated Modbus device (unit id).

Each unit has four tables sized to what its points use (rounded up to a
multiple of 100, so small gaps read as 0 like on a PLC, and addresses past the
end answer exception 2). Points are encoded into the banks in place; scale mode
writes whole slices at once.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass, field

from collectors.config.models import DataType, ModbusTable
from simulator.encoding import decode, encode
from simulator.points import Point, Value

_LITTLE = sys.byteorder == "little"


def _round_up(n: int, step: int = 100) -> int:
    return max(step, -(-n // step) * step)


@dataclass(eq=False)
class UnitBank:
    unit_id: int
    holding: array = field(default_factory=lambda: array("H"))
    input: array = field(default_factory=lambda: array("H"))
    coils: bytearray = field(default_factory=bytearray)
    discrete: bytearray = field(default_factory=bytearray)
    # (table, address) → the writable point whose registers include that address
    writable: dict[tuple[ModbusTable, int], Point] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)

    def registers(self, table: ModbusTable) -> array:
        return self.holding if table is ModbusTable.holding_register else self.input

    def bits(self, table: ModbusTable) -> bytearray:
        return self.coils if table is ModbusTable.coil else self.discrete

    def size(self, table: ModbusTable) -> int:
        return len(self.bits(table)) if table.is_bit else len(self.registers(table))

    def read_registers_bytes(self, table: ModbusTable, address: int, count: int) -> bytes:
        """Big-endian bytes of ``count`` registers (the FC3/FC4 payload)."""
        chunk = self.registers(table)[address : address + count]
        if _LITTLE:
            chunk.byteswap()
        return chunk.tobytes()

    def store(self, point: Point) -> None:
        """Encode a point's current value into the bank."""
        loc = point.modbus
        assert loc is not None
        value = point.value
        if loc.table.is_bit:
            self.bits(loc.table)[loc.address] = 1 if value else 0
            return
        registers = self.registers(loc.table)
        if loc.data_type is DataType.bit:
            mask = 1 << (loc.bit or 0)
            registers[loc.address] = (registers[loc.address] | mask) if value else (registers[loc.address] & ~mask)
            return
        words = encode(value, loc)
        registers[loc.address : loc.address + len(words)] = array("H", words)

    def value_in_bank(self, point: Point) -> Value:
        """Decode what a client wrote over a point's registers."""
        loc = point.modbus
        assert loc is not None
        if loc.table.is_bit:
            return bool(self.bits(loc.table)[loc.address])
        registers = self.registers(loc.table)
        if loc.data_type is DataType.bit:
            return bool(registers[loc.address] >> (loc.bit or 0) & 1)
        return decode(list(registers[loc.address : loc.address + loc.width]), loc)


def build_banks(points: list[Point]) -> dict[int, UnitBank]:
    """One bank per unit id, sized to its points, holding their initial values."""
    ends: dict[tuple[int, ModbusTable], int] = {}
    for point in points:
        loc = point.modbus
        if loc is None:
            continue
        key = (loc.unit_id, loc.table)
        ends[key] = max(ends.get(key, 0), loc.address + loc.width)
    banks: dict[int, UnitBank] = {}
    for (unit_id, table), end in ends.items():
        bank = banks.setdefault(unit_id, UnitBank(unit_id))
        size = _round_up(end)
        if table.is_bit:
            bank.bits(table).extend(bytes(size))
        else:
            bank.registers(table).frombytes(bytes(2 * size))
    for point in points:
        loc = point.modbus
        if loc is None:
            continue
        bank = banks[loc.unit_id]
        bank.points.append(point)
        bank.store(point)
        if point.writable:
            for address in range(loc.address, loc.address + loc.width):
                bank.writable[(loc.table, address)] = point
    return banks
