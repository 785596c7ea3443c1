"""Siemens S7 driver (python-snap7): DB/M/I/Q areas, BOOL to DATE_AND_TIME, reads planned to the PDU.

Public API: :class:`S7Driver`, :func:`s7_worker`, :func:`plan_requests`, :func:`parse_address`,
:func:`decode` / :func:`encode`. See ``README.md`` in this folder.
"""

from collectors.drivers.s7.address import S7Address, S7Type, decode, encode, parse_address
from collectors.drivers.s7.driver import S7Driver, s7_worker
from collectors.drivers.s7.planner import Block, S7Request, plan_requests

__all__ = ["Block", "S7Address", "S7Driver", "S7Request", "S7Type", "decode", "encode", "parse_address",
           "plan_requests", "s7_worker"]  # fmt: skip
