"""The simulator's S7 face: snap7's server with data blocks, markers, inputs and outputs.

``S7Face`` registers the areas (bytearrays the server reads and writes in
place), listens on a loopback port, and sets values through the S7 codec of
the driver (``collectors.drivers.s7.address``), so a test or a demo writes
``face.set("DB1,REAL4", 21.5)`` and a client reads exactly that. ``stop`` and
``start`` take the PLC away (its clients' connections drop) and bring it back
with the same memory.
"""

from __future__ import annotations

import logging
import threading

from snap7.server import Server
from snap7.type import Area, SrvArea

from collectors.drivers.s7.address import S7Address, S7Type, decode, encode, parse_address

log = logging.getLogger(__name__)

_SERVER_AREA = {Area.DB: SrvArea.DB, Area.MK: SrvArea.MK, Area.PE: SrvArea.PE, Area.PA: SrvArea.PA}


class S7Face:
    """A simulated S7 PLC on ``127.0.0.1:port``: ``data_blocks`` maps DB number → size in bytes."""

    def __init__(self, port: int, data_blocks: dict[int, int] | None = None, area_bytes: int = 256) -> None:
        self.port = port
        self.areas: dict[tuple[Area, int], bytearray] = {
            (Area.MK, 0): bytearray(area_bytes), (Area.PE, 0): bytearray(area_bytes),
            (Area.PA, 0): bytearray(area_bytes),
        }  # fmt: skip
        for number, size in (data_blocks or {1: 1024}).items():
            self.areas[(Area.DB, number)] = bytearray(size)
        self._server: Server | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        server = Server(log=False)
        for (area, number), data in self.areas.items():
            server.register_area(_SERVER_AREA[area], number, data)
        server.start_to("127.0.0.1", self.port)
        self._server = server
        log.info("S7 face on 127.0.0.1:%d (%d areas)", self.port, len(self.areas))

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def set(self, address: str | S7Address, value: float | str | bool) -> None:
        """Write ``value`` at ``address`` in the PLC's memory (a BOOL changes only its bit)."""
        where = parse_address(address) if isinstance(address, str) else address
        data = self.areas[(where.area, where.db)]
        raw = encode(where, value)
        with self._lock:
            if where.type is S7Type.BOOL:
                mask = 1 << where.sub
                data[where.offset] = (data[where.offset] & ~mask) | (raw[0] & mask)
            else:
                data[where.offset : where.offset + len(raw)] = raw

    def get(self, address: str | S7Address) -> float | str:
        where = parse_address(address) if isinstance(address, str) else address
        return decode(where, self.areas[(where.area, where.db)], where.offset)
