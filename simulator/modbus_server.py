"""A Modbus TCP server on asyncio, serving the simulator's register banks.

Written on the socket rather than on pymodbus' server so that fault injection
(silence, delays, exceptions per unit, dropped connections) acts exactly where a
device would misbehave, and so that pipelined requests on one connection are
answered in order (pymodbus' server ignores them). Clients see standard MBAP
frames; the tests read it with the pymodbus client.

Exceptions: 1 unknown function, 2 address outside the unit's tables or a write to
a read-only register, 3 bad quantity or a written value outside the point's
limits, 0x0A unknown unit id, 0x0B unit powered off, plus whatever is injected.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable

from collectors.config.models import ModbusTable
from simulator.faults import ModbusFaults, ignores_write
from simulator.points import Point
from simulator.registers import UnitBank

log = logging.getLogger(__name__)

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
GATEWAY_PATH_UNAVAILABLE = 0x0A
GATEWAY_TARGET_FAILED = 0x0B

_READ_TABLES = {
    1: ModbusTable.coil,
    2: ModbusTable.discrete_input,
    3: ModbusTable.holding_register,
    4: ModbusTable.input_register,
}

WriteHandler = Callable[[Point, UnitBank], bool]


class ModbusError(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class ModbusTcpServer:
    """Serve ``banks`` on ``host:port`` (port 0 picks a free port; see :attr:`port`)."""

    def __init__(
        self,
        banks: dict[int, UnitBank],
        faults: ModbusFaults,
        on_write: WriteHandler,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.banks = banks
        self.faults = faults
        self.on_write = on_write
        self.host = host
        self.port = port
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        self.drop_connections()
        await self._server.wait_closed()
        self._server = None

    def drop_connections(self) -> int:
        """Close every client connection (the listener stays open). Returns how many."""
        connections = list(self._connections)
        for connection in connections:
            connection.abort()
        return len(connections)

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # ------------------------------------------------------------------ request handling

    def answer(self, unit_id: int, pdu: bytes) -> bytes:
        """The response PDU for one request PDU (exceptions included)."""
        function = pdu[0] if pdu else 0
        try:
            injected = self.faults.exception_for(unit_id)
            if injected is not None:
                raise ModbusError(injected)
            if unit_id in self.faults.powered_off:
                raise ModbusError(GATEWAY_TARGET_FAILED)
            bank = self.banks.get(unit_id)
            if bank is None:
                raise ModbusError(GATEWAY_PATH_UNAVAILABLE)
            return self._execute(bank, function, pdu)
        except ModbusError as exc:
            return bytes((function | 0x80, exc.code))
        except (struct.error, IndexError):
            return bytes((function | 0x80, ILLEGAL_VALUE))

    def _execute(self, bank: UnitBank, function: int, pdu: bytes) -> bytes:
        if function in _READ_TABLES:
            address, count = struct.unpack_from(">HH", pdu, 1)
            table = _READ_TABLES[function]
            limit = 2000 if table.is_bit else 125
            if not 1 <= count <= limit:
                raise ModbusError(ILLEGAL_VALUE)
            if address + count > bank.size(table):
                raise ModbusError(ILLEGAL_ADDRESS)
            if table.is_bit:
                payload = _pack_bits(bank.bits(table)[address : address + count])
            else:
                payload = bank.read_registers_bytes(table, address, count)
            return bytes((function, len(payload))) + payload
        if function == 5:
            address, raw = struct.unpack_from(">HH", pdu, 1)
            if raw not in (0xFF00, 0x0000):
                raise ModbusError(ILLEGAL_VALUE)
            self._write(bank, ModbusTable.coil, address, [1 if raw else 0])
            return pdu[:5]
        if function == 6:
            address, raw = struct.unpack_from(">HH", pdu, 1)
            self._write(bank, ModbusTable.holding_register, address, [raw])
            return pdu[:5]
        if function == 15:
            address, count, byte_count = struct.unpack_from(">HHB", pdu, 1)
            if not 1 <= count <= 1968 or byte_count != (count + 7) // 8:
                raise ModbusError(ILLEGAL_VALUE)
            data = pdu[6 : 6 + byte_count]
            bits = [(data[i // 8] >> (i % 8)) & 1 for i in range(count)]
            self._write(bank, ModbusTable.coil, address, bits)
            return pdu[:5]
        if function == 16:
            address, count, byte_count = struct.unpack_from(">HHB", pdu, 1)
            if not 1 <= count <= 123 or byte_count != 2 * count or len(pdu) < 6 + byte_count:
                raise ModbusError(ILLEGAL_VALUE)
            values = list(struct.unpack_from(f">{count}H", pdu, 6))
            self._write(bank, ModbusTable.holding_register, address, values)
            return pdu[:5]
        raise ModbusError(ILLEGAL_FUNCTION)

    def _write(self, bank: UnitBank, table: ModbusTable, address: int, values: list[int]) -> None:
        """Write values over writable points only; reject the whole write otherwise."""
        if address + len(values) > bank.size(table):
            raise ModbusError(ILLEGAL_ADDRESS)
        points: list[Point] = []
        for offset in range(len(values)):
            point = bank.writable.get((table, address + offset))
            if point is None:
                raise ModbusError(ILLEGAL_ADDRESS)
            if point not in points:
                points.append(point)
        if all(ignores_write(self.faults.ignored_writes, point.name) for point in points):
            return  # acknowledged, not applied (fault injection)
        store = bank.bits(table) if table.is_bit else bank.registers(table)
        before = list(store[address : address + len(values)])
        for offset, value in enumerate(values):
            store[address + offset] = value
        if not all(self.on_write(point, bank) for point in points):
            for offset, value in enumerate(before):
                store[address + offset] = value
            for point in points:
                bank.store(point)
            raise ModbusError(ILLEGAL_VALUE)


def _pack_bits(bits: bytes | bytearray) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            out[index // 8] |= 1 << (index % 8)
    return bytes(out)


class _Connection(asyncio.Protocol):
    """One client connection: MBAP framing, in-order answers, injected faults."""

    def __init__(self, server: ModbusTcpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: list[asyncio.TimerHandle] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self)
        for handle in self.pending:
            handle.cancel()
        self.pending.clear()
        self.transport = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 8:
            transaction, protocol, length = struct.unpack_from(">HHH", self.buffer, 0)
            if protocol != 0 or not 2 <= length <= 254:
                log.debug("bad MBAP header, closing the connection")
                self.abort()
                return
            if len(self.buffer) < 6 + length:
                return
            unit_id = self.buffer[6]
            pdu = bytes(self.buffer[7 : 6 + length])
            del self.buffer[: 6 + length]
            self._handle(transaction, unit_id, pdu)

    def _handle(self, transaction: int, unit_id: int, pdu: bytes) -> None:
        server = self.server
        server.requests += 1
        faults = server.faults
        if faults.silent_for(unit_id):
            return
        response = server.answer(unit_id, pdu)
        frame = struct.pack(">HHHB", transaction, 0, len(response) + 1, unit_id) + response
        delay = faults.delay_for(unit_id)
        if delay > 0:
            loop = asyncio.get_running_loop()
            self.pending = [h for h in self.pending if not h.cancelled() and h.when() > loop.time()]
            self.pending.append(loop.call_later(delay, self._send, frame))
        else:
            self._send(frame)

    def _send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)
