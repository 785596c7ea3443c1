"""Thin adapter over pymodbus's async clients: the only module that imports pymodbus.

pymodbus changes its API between minor versions (3.16 names the unit
``device_id=`` and moved its datastore), so everything the driver needs goes
through :class:`ModbusClient`, which speaks our terms: function codes, unit ids,
lists of registers or bits, and the typed errors of :mod:`collectors.errors`.

What it adds to pymodbus, and why:

- **A deadline on every call** (connect, read, write): ``asyncio.timeout``
  around it. pymodbus's own retries are off (0) and its own timeout is set
  longer than ours, so a dead device costs one deadline, never 3 s × 4 tries.
- **Out-of-step detection.** pymodbus silently skips a reply whose transaction id
  is not the one it waits for, and the call then times out. A wrong id means the
  stream is out of step; we see the raw frame first and fail the call at once
  with :class:`ProtocolOutOfStep`, so the worker drops the connection in the same
  cycle instead of after a timeout.
- **A lost transport fails the call at once** (pymodbus would wait for its timeout).
- **No reconnect of its own** (``reconnect_delay=0``): the connection worker owns it.
- **Serial lines**: one owner per port in this process, and the 3.5-character
  silent interval between frames that pymodbus does not keep on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from collectors.config.models import ModbusConnection, ModbusTransport
from collectors.errors import BadAddress, ConnectionLost, DeviceBusy, DeviceError, DeviceTimeout, ProtocolOutOfStep
from collectors.samples import BAD_DEVICE_FAILURE, BAD_NODE_ID_UNKNOWN, BAD_OUT_OF_RANGE

BAD_NOT_SUPPORTED = 0x803D0000

# Which serial port belongs to which connection, in this process (one owner per port).
_serial_owners: dict[str, str] = {}


class ModbusExceptionReply(DeviceError):
    """Base of the errors made from a Modbus exception response; ``code`` is the exception code."""

    code = 0
    status: int | None = None


class IllegalFunction(ModbusExceptionReply, BadAddress):
    """Exception 1: the device has no such table or function (a config error, not a comms one)."""

    code, status = 1, BAD_NOT_SUPPORTED


class IllegalAddress(ModbusExceptionReply, BadAddress):
    """Exception 2: an address in the request does not exist on the device."""

    code, status = 2, BAD_NODE_ID_UNKNOWN


class IllegalValue(ModbusExceptionReply, BadAddress):
    """Exception 3: the request's count or value is not acceptable to the device."""

    code, status = 3, BAD_OUT_OF_RANGE


class DeviceFailure(ModbusExceptionReply):
    """Exception 4: the device failed while answering."""

    code, status = 4, BAD_DEVICE_FAILURE


class Busy(ModbusExceptionReply, DeviceBusy):
    """Exception 6 (busy) or 5 (acknowledge, still working): ask again later."""

    code = 6


class GatewayNoResponse(ModbusExceptionReply, DeviceTimeout):
    """Exceptions 10/11: the gateway is alive but the unit behind it did not answer."""

    code = 11


_EXCEPTION_REPLIES: dict[int, type[ModbusExceptionReply]] = {
    1: IllegalFunction, 2: IllegalAddress, 3: IllegalValue, 4: DeviceFailure,
    5: Busy, 6: Busy, 10: GatewayNoResponse, 11: GatewayNoResponse,
}


def exception_reply(code: int, what: str) -> ModbusExceptionReply:
    kind = _EXCEPTION_REPLIES.get(code, DeviceFailure)
    error = kind(f"{what}: Modbus exception {code}")
    error.code = code
    return error


class _RawHoldingRegisters(ReadHoldingRegistersResponse):
    """An FC3 answer kept as bytes: the codec unpacks the whole block in one struct call, so
    pymodbus's per-register decoding loop is skipped on the hot path of every poll."""

    function_code = 3

    def decode(self, data: bytes) -> None:
        size = data[0]
        if size >= len(data):
            raise ModbusIOException(f"byte count {size} > packet length {len(data)}", function_code=self.function_code)
        self.raw = bytes(data[1 : 1 + size])


class _RawInputRegisters(_RawHoldingRegisters):
    function_code = 4


class ModbusClient:
    """One pymodbus client for one connection (TCP, RTU serial or RTU over TCP)."""

    def __init__(self, connection: ModbusConnection) -> None:
        self.connection = connection
        self.timeout = connection.timeout
        self._client: Any = None
        self._serial_port: str | None = None
        self._expect_tid = connection.transport is ModbusTransport.tcp
        self._frame_gap = _serial_frame_gap(connection) if connection.transport is not ModbusTransport.tcp else 0.0
        self._quiet_until = 0.0
        self._in_flight = 0  # calls started and not finished (a write may wait behind a read)
        self.last_exchange: tuple[float, float] = (0.0, 0.0)  # wall-clock send and receive of the last call

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Open the transport. Raises ConnectionLost (refused, port taken) or DeviceTimeout."""
        self.close()
        conn = self.connection
        # pymodbus's timeout only bounds the connect; ours bounds every call (see below).
        common: dict[str, Any] = {
            "timeout": self.timeout + 1.0, "retries": 0, "reconnect_delay": 0,
            "trace_packet": self._trace_packet, "trace_connect": self._trace_connect,
        }
        if conn.transport is ModbusTransport.rtu:
            assert conn.serial is not None
            port = os.path.realpath(conn.serial.port)
            owner = _serial_owners.get(port)
            if owner is not None and owner != conn.id:
                raise ConnectionLost(f"serial port {conn.serial.port} is already owned by connection {owner}")
            _serial_owners[port] = conn.id
            self._serial_port = port
            client: AsyncModbusSerialClient | AsyncModbusTcpClient = AsyncModbusSerialClient(
                conn.serial.port, framer=FramerType.RTU, baudrate=conn.serial.baudrate,
                bytesize=conn.serial.bytesize, parity=conn.serial.parity, stopbits=conn.serial.stopbits, **common,
            )
        else:
            framer = FramerType.SOCKET if conn.transport is ModbusTransport.tcp else FramerType.RTU
            client = AsyncModbusTcpClient(conn.host or "", port=conn.port or 502, framer=framer, **common)
        client.set_max_no_responses(1 << 30)
        client.register(_RawHoldingRegisters)
        client.register(_RawInputRegisters)
        self._client = client
        try:
            async with asyncio.timeout(self.timeout):
                ok = await client.connect()
        except TimeoutError as exc:
            self.close()
            raise DeviceTimeout(f"{self.describe()}: no connection within {self.timeout} s") from exc
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"{self.describe()}: {exc}") from exc
        if not ok:
            self.close()
            raise ConnectionLost(f"{self.describe()}: connection refused or port unavailable")
        # From now on our own deadline (asyncio.timeout in _call) is the only one: without a timeout
        # pymodbus awaits its answer future directly, which saves a timer and a wrapper per request.
        client.ctx.comm_params.timeout_connect = None  # type: ignore[assignment]  # pymodbus: None is no timeout

    def close(self) -> None:
        """Close the transport and give the serial port back; never raises."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a half-open transport may fail to close; it is gone anyway
                client.close()
        if self._serial_port is not None:
            if _serial_owners.get(self._serial_port) == self.connection.id:
                del _serial_owners[self._serial_port]
            self._serial_port = None

    def describe(self) -> str:
        conn = self.connection
        where = conn.serial.port if conn.serial is not None and conn.transport is ModbusTransport.rtu else (
            f"{conn.host}:{conn.port or 502}"
        )
        return f"{conn.id} ({conn.transport.value} {where})"

    # ------------------------------------------------------------------ calls

    async def read(self, function_code: int, unit: int, address: int, count: int) -> list[int] | list[bool]:
        """Read ``count`` registers (FC3/4) or bits (FC1/2) from ``address`` of ``unit``."""
        values, _sent, _received = await self.read_timed(function_code, unit, address, count)
        if isinstance(values, bytes):
            return list(struct.unpack(f">{count}H", values[: 2 * count]))
        return values

    async def read_timed(
        self, function_code: int, unit: int, address: int, count: int
    ) -> tuple[bytes | list[bool], float, float]:
        """Like :meth:`read`, with the wall-clock times the request was sent and answered.

        Registers come as the answer's bytes (big-endian, as on the wire), bits as bools.
        """
        client = self._ready()
        method = {
            1: client.read_coils, 2: client.read_discrete_inputs,
            3: client.read_holding_registers, 4: client.read_input_registers,
        }[function_code]
        what = f"unit {unit} FC{function_code} {address}+{count}"
        response = await self._call(what, method, address, count=count, device_id=unit)
        values = response.bits if function_code <= 2 else getattr(response, "raw", b"")
        size = count if function_code <= 2 else 2 * count
        if len(values) < size or response.function_code != function_code:
            raise ProtocolOutOfStep(f"{what}: answer has function {response.function_code} and {len(values)} values")
        sent, received = self.last_exchange
        return values, sent, received

    async def write_registers(self, unit: int, address: int, registers: Sequence[int]) -> None:
        """FC6 for one register, FC16 for several."""
        client = self._ready()
        what = f"unit {unit} write {address}+{len(registers)}"
        if len(registers) == 1:
            await self._call(what, client.write_register, address, registers[0], device_id=unit)
        else:
            await self._call(what, client.write_registers, address, list(registers), device_id=unit)

    async def write_coils(self, unit: int, address: int, bits: Sequence[bool]) -> None:
        """FC5 for one coil, FC15 for several."""
        client = self._ready()
        what = f"unit {unit} write coil {address}+{len(bits)}"
        if len(bits) == 1:
            await self._call(what, client.write_coil, address, bool(bits[0]), device_id=unit)
        else:
            await self._call(what, client.write_coils, address, [bool(b) for b in bits], device_id=unit)

    def _ready(self) -> Any:
        if self._client is None or not self._client.connected:
            raise ConnectionLost(f"{self.describe()}: not connected")
        return self._client

    async def _call(self, what: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self._frame_gap:
            quiet = self._quiet_until - time.monotonic()
            if quiet > 0:
                await asyncio.sleep(quiet)
        sent = time.time()
        self._in_flight += 1
        try:
            async with asyncio.timeout(self.timeout):
                response = await method(*args, **kwargs)
        except TimeoutError as exc:
            raise DeviceTimeout(f"{what}: no answer within {self.timeout} s") from exc
        except DeviceError:
            raise  # set by our trace hooks: out of step or transport lost
        except ConnectionException as exc:
            raise ConnectionLost(f"{what}: {exc}") from exc
        except ModbusIOException as exc:
            if "decode" in str(exc).lower():
                raise ProtocolOutOfStep(f"{what}: undecodable answer ({exc})") from exc
            raise DeviceTimeout(f"{what}: {exc}") from exc
        except ModbusException as exc:
            raise ProtocolOutOfStep(f"{what}: {exc}") from exc
        finally:
            self._in_flight -= 1
            if self._frame_gap:
                self._quiet_until = time.monotonic() + self._frame_gap
        self.last_exchange = (sent, time.time())
        if response.isError():
            raise exception_reply(getattr(response, "exception_code", 0), what)
        return response

    # ------------------------------------------------------------------ pymodbus hooks

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """Sees every frame before pymodbus: a reply with another transaction id fails the call now."""
        if not sending and self._expect_tid and len(data) >= 2 and self._client is not None:
            ctx = self._client.ctx
            tid = (data[0] << 8) | data[1]
            expected = ctx.request_transaction_id
            if tid != expected:
                self._fail_pending(ProtocolOutOfStep(f"reply has transaction id {tid}, expected {expected}"))
        return data

    def _trace_connect(self, connected: bool) -> None:
        if not connected:
            self._fail_pending(ConnectionLost(f"{self.describe()}: connection closed by the other end"))

    def _fail_pending(self, error: DeviceError) -> None:
        if not self._in_flight:
            return
        future = getattr(getattr(self._client, "ctx", None), "response_future", None)
        if future is not None and not future.done():
            future.set_exception(error)


def _serial_frame_gap(connection: ModbusConnection) -> float:
    """The silent interval between frames: 3.5 characters of 11 bits, at least 1.75 ms (the spec's
    floor above 19200 baud)."""
    baudrate = connection.serial.baudrate if connection.serial is not None else 19200
    return max(3.5 * 11 / baudrate, 0.00175)
