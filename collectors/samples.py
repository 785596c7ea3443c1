"""The sample: one value of one tag at one time, with its quality.

Quality is an OPC UA StatusCode (uint32) for every protocol, so Modbus and OPC UA
samples are judged alike: 0 is Good, the top two bits say Uncertain (01) or Bad
(10). Bad samples are samples too; they are stored, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# StatusCodes used by our own drivers (values from the OPC UA specification, Part 6).
GOOD = 0x00000000
UNCERTAIN = 0x40000000
BAD = 0x80000000
BAD_COMMUNICATION_ERROR = 0x80050000
BAD_TIMEOUT = 0x800A0000
BAD_NO_COMMUNICATION = 0x80310000
BAD_NODE_ID_UNKNOWN = 0x80340000
BAD_OUT_OF_RANGE = 0x803C0000
BAD_TYPE_MISMATCH = 0x80740000
BAD_DEVICE_FAILURE = 0x808B0000
BAD_NO_DATA = 0x809B0000
UNCERTAIN_ENGINEERING_UNITS_EXCEEDED = 0x40940000


def is_good(status: int) -> bool:
    return status >> 30 == 0


def is_bad(status: int) -> bool:
    return status >> 30 == 2


@dataclass(slots=True)
class Sample:
    """One reading. ``time`` is the source time (or, when the device gives none,
    the midpoint of request and answer); ``received`` is when the collector had it.
    ``source_time`` is set only when the pipeline re-stamped the sample (its source
    time was older than the tag's last stored sample): it keeps the device's time,
    and ``time`` is then the receive time."""

    tag: str
    time: datetime
    value: float | str | None  # a string for text tags (the store keeps it in text_value)
    status: int = GOOD
    text: str | None = None
    server_time: datetime | None = None
    received: datetime | None = None
    source_time: datetime | None = None
