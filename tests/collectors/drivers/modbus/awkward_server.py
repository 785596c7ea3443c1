"""A deliberately awkward Modbus server for the driver tests.

It speaks real Modbus over loopback TCP (MBAP framing), RTU over TCP, and RTU on
a serial line (a pseudo-terminal from socat), and each unit id can misbehave the
way field devices do: never answer, answer busy, refuse some addresses. It can
also answer with the wrong transaction id to put the stream out of step.
"""

from __future__ import annotations

import asyncio
import os
import struct
import termios
import time
import tty
from dataclasses import dataclass, field


@dataclass
class Unit:
    """One device behind the server. ``behaviour``: normal, silent, busy_first, busy_always."""

    holding: list[int] = field(default_factory=lambda: [0] * 65536)
    input: list[int] = field(default_factory=lambda: [0] * 65536)
    coils: list[bool] = field(default_factory=lambda: [False] * 65536)
    discrete: list[bool] = field(default_factory=lambda: [False] * 65536)
    behaviour: str = "normal"
    delay: float = 0.0  # seconds before each answer (a slow device answers after the client gave up)
    illegal: set[int] = field(default_factory=set)  # addresses answered with exception 2
    max_count: int = 125  # a larger read count gets exception 3
    busy_seen: dict[tuple[int, int, int], float] = field(default_factory=dict)
    requests: list[tuple[int, int, int, float]] = field(default_factory=list)  # (fc, address, count, time)


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    body = bytes([unit]) + pdu
    return body + struct.pack("<H", crc16(body))


class AwkwardServer:
    """Serve ``units`` (unit id → Unit). ``desync_replies``: that many next replies get a wrong tid."""

    def __init__(self, units: dict[int, Unit], *, busy_retry_after: float = 0.05) -> None:
        self.units = units
        self.busy_retry_after = busy_retry_after
        self.desync_replies = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._serial_fd: int | None = None

    # ------------------------------------------------------------------ PDU handling

    def handle(self, unit_id: int, pdu: bytes) -> bytes | None:
        """The response PDU, or None to stay silent."""
        unit = self.units.get(unit_id)
        if unit is None or unit.behaviour == "silent":
            return None
        fc = pdu[0]
        address, count = struct.unpack(">HH", pdu[1:5])
        unit.requests.append((fc, address, count, time.monotonic()))
        if unit.behaviour == "busy_always":
            return bytes([fc | 0x80, 6])
        if unit.behaviour == "busy_first" and fc in (1, 2, 3, 4):
            key = (fc, address, count)
            first = unit.busy_seen.get(key)
            if first is None or time.monotonic() - first > 1.0:
                unit.busy_seen[key] = time.monotonic()
                return bytes([fc | 0x80, 6])
            if time.monotonic() - first < self.busy_retry_after:
                return bytes([fc | 0x80, 6])
            del unit.busy_seen[key]
        if fc in (1, 2, 3, 4):
            limit = unit.max_count if fc in (3, 4) else 2000
            if not 1 <= count <= limit:
                return bytes([fc | 0x80, 3])
            if any(a in unit.illegal for a in range(address, address + count)):
                return bytes([fc | 0x80, 2])
            if fc in (3, 4):
                table = unit.holding if fc == 3 else unit.input
                regs = table[address : address + count]
                return struct.pack(f">BB{count}H", fc, 2 * count, *regs)
            bits = (unit.coils if fc == 1 else unit.discrete)[address : address + count]
            packed = bytearray((count + 7) // 8)
            for i, bit in enumerate(bits):
                if bit:
                    packed[i // 8] |= 1 << (i % 8)
            return bytes([fc, len(packed)]) + bytes(packed)
        if address in unit.illegal:
            return bytes([fc | 0x80, 2])
        if fc == 5:
            unit.coils[address] = count == 0xFF00
            return pdu[:5]
        if fc == 6:
            unit.holding[address] = count
            return pdu[:5]
        if fc == 15:
            data = pdu[6:]
            for i in range(count):
                unit.coils[address + i] = bool(data[i // 8] >> (i % 8) & 1)
            return pdu[:5]
        if fc == 16:
            values = struct.unpack(f">{count}H", pdu[6 : 6 + 2 * count])
            unit.holding[address : address + count] = list(values)
            return pdu[:5]
        return bytes([fc | 0x80, 1])

    # ------------------------------------------------------------------ TCP (MBAP) and RTU over TCP

    async def start_tcp(self, *, rtu: bool = False) -> int:
        """Listen on a free loopback port; return it."""
        handler = self._serve_rtu_stream if rtu else self._serve_mbap
        self._server = await asyncio.start_server(handler, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve_mbap(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                header = await reader.readexactly(7)
                tid, _pid, length, unit_id = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                reply = self.handle(unit_id, pdu)
                if reply is None:
                    continue
                unit = self.units.get(unit_id)
                if unit is not None and unit.delay:
                    await asyncio.sleep(unit.delay)
                if self.desync_replies:
                    self.desync_replies -= 1
                    tid = (tid + 1) & 0xFFFF
                writer.write(struct.pack(">HHHB", tid, 0, len(reply) + 1, unit_id) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the server is closing
        finally:
            writer.close()

    async def _serve_rtu_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        buffer = b""
        try:
            while True:
                buffer += await reader.read(512)
                if reader.at_eof():
                    return
                buffer = self._rtu_requests(buffer, writer.write)
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the server is closing
        finally:
            writer.close()

    def _rtu_requests(self, buffer: bytes, send: object) -> bytes:
        """Answer every complete RTU request in ``buffer``; return what is left."""
        while len(buffer) >= 8:
            fc = buffer[1]
            size = 9 + buffer[6] if fc in (15, 16) and len(buffer) >= 7 else 8
            if len(buffer) < size:
                break
            frame, buffer = buffer[:size], buffer[size:]
            if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
                return b""  # noise: drop everything and wait for the line to go quiet
            reply = self.handle(frame[0], frame[1:-2])
            if reply is not None:
                send(rtu_frame(frame[0], reply))  # type: ignore[operator]
        return buffer

    def drop_connections(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    # ------------------------------------------------------------------ RTU on a serial line

    def start_serial(self, device: str) -> None:
        """Answer RTU requests on the (pseudo-)terminal ``device``."""
        fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._serial_fd = fd
        state = {"buffer": b""}

        def readable() -> None:
            try:
                state["buffer"] += os.read(fd, 1024)
            except BlockingIOError:
                return
            state["buffer"] = self._rtu_requests(state["buffer"], lambda data: os.write(fd, data))

        asyncio.get_running_loop().add_reader(fd, readable)

    async def close(self) -> None:
        if self._serial_fd is not None:
            asyncio.get_running_loop().remove_reader(self._serial_fd)
            os.close(self._serial_fd)
            self._serial_fd = None
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
