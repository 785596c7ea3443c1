"""One verified setpoint write: check, read the old value, write, read back, compare.

This is the device half of the audited write path (docs/recipes.md). Who may write
and the audit row are the MES's business; here a write is refused unless the tag is
marked ``writable`` and the value lies inside its ``write_limits`` (checked again,
whatever the caller checked), then it goes through the connection's own driver and
is read back until it equals the value within the tolerance or the read-back window
ends. A device that acknowledges a write and keeps its old value is reported as a
``mismatch``, never as written.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from collectors.config.models import DataType, Tag
from collectors.errors import DeviceError, WriteRefused
from collectors.samples import Sample

READBACK_WINDOW = 1.0  # seconds a device gets to show the written value (a PLC scan or two)
READBACK_INTERVAL = 0.1
_INTEGER_TYPES = {DataType.int8_high, DataType.int8_low, DataType.uint8_high, DataType.uint8_low, DataType.int16,
                  DataType.uint16, DataType.int32, DataType.uint32, DataType.int64, DataType.uint64,
                  DataType.bcd16, DataType.bcd32}  # fmt: skip


class WritableDriver(Protocol):
    """What a driver offers the write path (the Modbus and OPC UA drivers do)."""

    connection_id: str

    async def write(self, tag: str, value: Any) -> None: ...

    async def read_tag(self, tag: str) -> Sample: ...


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one write. ``result``: ``written`` (read back equal), ``mismatch`` (the device
    kept or shows another value), ``refused`` (not sent: not writable, out of limits, wrong type),
    ``failed`` (sent or tried, the device or connection failed)."""

    tag: str
    requested: Any
    old: Any = None
    readback: Any = None
    result: str = "failed"
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def value_of(sample: Sample) -> Any:
    """A sample's value as people read it (a number, or text); None when it is bad."""
    if sample.status >> 31:
        return None
    return sample.text if sample.text is not None else sample.value


def default_tolerance(tag: Tag, value: float) -> float:
    """The tag's ``write_tolerance``, else what its encoding can hold: half a step of a scaled integer
    register, else a relative 1e-6 (float32 keeps about 7 digits)."""
    if tag.write_tolerance is not None:
        return tag.write_tolerance
    step = abs(tag.scale) / 2 if tag.data_type in _INTEGER_TYPES else 0.0
    return max(step, 1e-6 * max(1.0, abs(value)))


def limit_problem(tag: Tag, value: Any) -> str | None:
    """Why ``value`` may not be written to ``tag`` (None: it may)."""
    if not tag.writable:
        return f"tag {tag.name} is not writable (set writable: true in the plant config)"
    if value is None:
        return f"no value given for {tag.name}"
    if isinstance(value, str):
        return None  # a text tag: its length and type are the encoder's to judge
    if not isinstance(value, int | float) or not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if tag.write_limits is not None:
        low, high = tag.write_limits
        if not low <= value <= high:
            return f"{value:g} is outside the write limits [{low:g}, {high:g}] of tag {tag.name}"
    return None


def equal_enough(tag: Tag, wanted: Any, got: Any, tolerance: float | None = None) -> bool:
    """Is the read-back ``got`` the written ``wanted``? Numbers within the tolerance, the rest exactly."""
    if got is None:
        return False
    if isinstance(wanted, bool) or isinstance(got, bool):
        return bool(wanted) == bool(got)
    if isinstance(wanted, int | float) and isinstance(got, int | float):
        allowed = default_tolerance(tag, float(wanted)) if tolerance is None else tolerance
        return abs(float(got) - float(wanted)) <= allowed
    return str(wanted) == str(got)


async def write_verified(driver: WritableDriver, tag: Tag, value: Any, *, tolerance: float | None = None,
                         window: float = READBACK_WINDOW) -> WriteOutcome:  # fmt: skip
    """Write ``value`` to ``tag`` through ``driver`` and read it back. Never raises for a device problem:
    the outcome says what happened, so one failed setpoint never hides the others."""
    problem = limit_problem(tag, value)
    if problem:
        return WriteOutcome(tag.name, value, result="refused", message=problem)
    try:
        old = value_of(await driver.read_tag(tag.name))
    except DeviceError as exc:
        return WriteOutcome(tag.name, value, result="failed", message=f"reading the old value failed: {exc}")
    try:
        await driver.write(tag.name, value)
    except WriteRefused as exc:
        return WriteOutcome(tag.name, value, old, result="refused", message=str(exc))
    except DeviceError as exc:
        return WriteOutcome(tag.name, value, old, result="failed", message=f"the write failed: {exc}")
    return await _read_back(driver, tag, value, old, tolerance, window)


async def _read_back(driver: WritableDriver, tag: Tag, value: Any, old: Any, tolerance: float | None,
                     window: float) -> WriteOutcome:  # fmt: skip
    deadline = time.monotonic() + window
    readback: Any = None
    while True:
        try:
            readback = value_of(await driver.read_tag(tag.name))
        except DeviceError as exc:
            return WriteOutcome(tag.name, value, old, result="failed",
                                message=f"written, but the read-back failed: {exc}")  # fmt: skip
        if equal_enough(tag, value, readback, tolerance):
            return WriteOutcome(tag.name, value, old, readback, "written")
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(READBACK_INTERVAL)
    return WriteOutcome(tag.name, value, old, readback, "mismatch",
                        f"tag {tag.name}: wrote {_shown(value)}, the device acknowledged it but reads back "
                        f"{_shown(readback)} after {window:g} s")  # fmt: skip


def _shown(value: Any) -> str:
    """A value as a message shows it: numbers as people write them (560, not 560.0)."""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)
