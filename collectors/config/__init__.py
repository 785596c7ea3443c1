"""Plant configuration: models, loading with line-numbered errors, cross checks."""

from collectors.config.loader import format_loc, load_plant, parse_plant
from collectors.config.models import (
    ByteOrder,
    DataType,
    Line,
    MachineState,
    ModbusConnection,
    ModbusTable,
    OpcuaConnection,
    Plant,
    Tag,
)

__all__ = [
    "ByteOrder",
    "DataType",
    "Line",
    "MachineState",
    "ModbusConnection",
    "ModbusTable",
    "OpcuaConnection",
    "Plant",
    "Tag",
    "format_loc",
    "load_plant",
    "parse_plant",
]
