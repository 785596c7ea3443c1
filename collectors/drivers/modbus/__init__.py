"""Modbus driver: TCP, RTU serial and RTU over TCP, on pymodbus behind a thin adapter.

Public API: :class:`ModbusDriver` (the :class:`~collectors.drivers.base.Driver` for
one connection), :func:`modbus_worker` (driver + connection worker, ready to run),
:func:`plan_requests` (what ``linebrain plan`` prints), and the codec functions
:func:`encode_value` / :func:`decode_value`. See ``README.md`` in this folder.
"""

from collectors.drivers.modbus.codec import BlockDecoder, DecodeError, decode_value, encode_value
from collectors.drivers.modbus.driver import ModbusDriver, modbus_worker
from collectors.drivers.modbus.planner import ReadRequest, plan_requests
from collectors.errors import WriteRefused

__all__ = [
    "BlockDecoder",
    "DecodeError",
    "ModbusDriver",
    "ReadRequest",
    "WriteRefused",
    "decode_value",
    "encode_value",
    "modbus_worker",
    "plan_requests",
]
