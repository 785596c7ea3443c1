"""Points: the simulated values, each with where it lives on Modbus and OPC UA.

A scenario model only sets values on its points. The servers read points, so a
value looks the same over both protocols, and a point counts how often its
published value changed: that count is the ground truth a store test compares
its row count against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from collectors.config.models import ByteOrder, DataType, ModbusTable

Value = float | int | bool | str


@dataclass(frozen=True, slots=True)
class ModbusLocation:
    """Where a point sits in a Modbus device. ``address`` is zero-based.

    ``scale``/``offset`` follow the plant config: engineering = raw × scale + offset.
    """

    unit_id: int
    table: ModbusTable
    address: int
    data_type: DataType = DataType.uint16
    byte_order: ByteOrder = ByteOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    length: int | None = None

    @property
    def width(self) -> int:
        """Registers (or bits) occupied."""
        if self.table.is_bit:
            return 1
        if self.data_type in (DataType.string, DataType.string_bytewise):
            return self.length or 1
        return {DataType.int32: 2, DataType.uint32: 2, DataType.float32: 2}.get(self.data_type, 1)


# OPC UA variant type names used for the node of each point.
@dataclass(eq=False, slots=True)
class Point:
    """One simulated value.

    ``name`` is the dotted ISA-95 path below the simulator's root folder
    (``Packaging.Line1.Filler.State``); it is also the OPC UA string node id
    (``ns=2;s=<name>``). ``modbus`` is None for points served over OPC UA only.
    """

    name: str
    opcua_type: str
    value: Value
    unit: str = ""
    range: tuple[float, float] | None = None
    description: str = ""
    modbus: ModbusLocation | None = None
    opcua: bool = True
    writable: bool = False
    write_limits: tuple[float, float] | None = None
    machine: str | None = None
    good: bool = True
    time: datetime | None = None
    changes: int = 0
    published: Value | None = field(default=None, repr=False)
    published_good: bool = field(default=True, repr=False)
    dirty: bool = field(default=True, repr=False)

    def set(self, value: Value, time: datetime | None = None) -> None:
        """Set the value the servers will publish next."""
        if value != self.value:
            self.value = value
            self.dirty = True
        if time is not None:
            self.time = time

    def set_good(self, good: bool) -> None:
        if good != self.good:
            self.good = good
            self.dirty = True

    @property
    def folder(self) -> tuple[str, ...]:
        return tuple(self.name.split(".")[:-1])

    @property
    def browse_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


