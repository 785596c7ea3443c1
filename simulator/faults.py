"""Fault injection switches, flipped at run time through :class:`Simulator` methods.

``ignored_writes`` (both protocols) holds point names whose writes the device
acknowledges and then drops, like a PLC whose HMI or logic overrides the value
at once; ``None`` in it means every writable point.

Each switch applies to one Modbus unit id or, with ``None``, to every unit.
The servers consult these on every request, so a fault starts with the next
request and ends when cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModbusFaults:
    silent: set[int | None] = field(default_factory=set)  # read requests, never answer
    delay: dict[int | None, float] = field(default_factory=dict)  # answer after this many seconds
    exception: dict[int | None, int] = field(default_factory=dict)  # answer with this exception code
    powered_off: set[int] = field(default_factory=set)  # answer exception 0x0B (gateway target failed)
    ignored_writes: set[str | None] = field(default_factory=set)  # acknowledge these writes, keep the old value

    def silent_for(self, unit_id: int) -> bool:
        return bool(self.silent) and (None in self.silent or unit_id in self.silent)

    def delay_for(self, unit_id: int) -> float:
        if not self.delay:
            return 0.0
        return self.delay.get(unit_id, self.delay.get(None, 0.0))

    def exception_for(self, unit_id: int) -> int | None:
        if not self.exception:
            return None
        return self.exception.get(unit_id, self.exception.get(None))

    def clear(self) -> None:
        self.silent.clear()
        self.delay.clear()
        self.exception.clear()
        self.ignored_writes.clear()


@dataclass
class OpcuaFaults:
    silent: bool = False  # stop reading requests from clients, refuse new connections
    delay: float = 0.0  # seconds added to every Read / CreateMonitoredItems
    ignored_writes: set[str | None] = field(default_factory=set)  # acknowledge these writes, keep the old value

    def clear(self) -> None:
        self.silent = False
        self.delay = 0.0
        self.ignored_writes.clear()


def ignores_write(ignored: set[str | None], point_name: str) -> bool:
    """Is a write to ``point_name`` to be acknowledged and dropped?"""
    return bool(ignored) and (None in ignored or point_name in ignored)
