"""Plain-client helpers for the simulator tests: decoding written from the documented map, not our codec."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from pymodbus.client import AsyncModbusTcpClient

from simulator import Simulator, SimulatorOptions

# A Monday in winter, 08:00 Berlin: two hours before the 10:00 break.
MONDAY_0700_UTC = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def frozen(**overrides) -> Simulator:
    """A simulator whose clock only moves with ``advance()``: deterministic tests."""
    options = {"scenario": "brewery", "seed": 1, "speed": 0, "start": MONDAY_0700_UTC}
    options.update(overrides)
    return Simulator(SimulatorOptions(**options))


async def modbus_client(sim: Simulator, timeout: float = 1.0) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=timeout, retries=0)
    assert await client.connect()
    return client


def u32(registers: list[int], order: str = "ABCD") -> int:
    high, low = registers if order == "ABCD" else reversed(registers)
    return (high << 16) | low


def f32(registers: list[int], order: str = "ABCD") -> float:
    words = registers if order == "ABCD" else list(reversed(registers))
    return struct.unpack(">f", struct.pack(">HH", *words))[0]


def i16(register: int) -> int:
    return register - 0x10000 if register & 0x8000 else register


def text(registers: list[int]) -> str:
    return b"".join(r.to_bytes(2, "big") for r in registers).rstrip(b"\0").decode()
