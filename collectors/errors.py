"""Error hierarchy shared by collectors and mes.

Every error LineBrain raises on purpose derives from :class:`LineBrainError`, so a
caller can catch one type and still tell a bad config from a dead device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectors.samples import Sample


class LineBrainError(Exception):
    """Base of all LineBrain errors."""


class ConfigError(LineBrainError):
    """A plant config is invalid. ``problems`` holds one line per finding."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class DeviceError(LineBrainError):
    """A device did not answer as expected. Drivers raise the subclasses."""


class DeviceTimeout(DeviceError):
    """No answer within the request deadline."""


class DeviceBusy(DeviceError):
    """The device asked us to retry later (Modbus exception 6)."""


class BadAddress(DeviceError):
    """The device rejected the address or value (Modbus exceptions 2/3, unknown node)."""


class ProtocolOutOfStep(DeviceError):
    """The reply does not belong to our request: the connection must be dropped."""


class ConnectionLost(DeviceError):
    """The transport is gone; the worker reconnects."""


class PartialRead(DeviceError):
    """Some requests of a poll group failed while others were answered.

    ``samples`` holds what was read; ``failures`` pairs the tag names of each failed
    request with its typed error. The connection worker turns the failures into
    bad-quality samples (in one place) and decides about reconnecting, so a driver
    never has to pick status codes or retry policies itself.
    """

    def __init__(self, samples: list[Sample], failures: list[tuple[list[str], DeviceError]]) -> None:
        self.samples = samples
        self.failures = failures
        kinds = sorted({type(error).__name__ for _, error in failures})
        super().__init__(f"{len(failures)} request(s) failed ({', '.join(kinds)}), {len(samples)} samples read")


class WriteRefused(LineBrainError):
    """A write was not sent: the tag is not writable, or the value is outside its write limits or type."""


class StoreError(LineBrainError):
    """The sample store could not persist or replay data."""


class DatabaseError(LineBrainError):
    """The database could not be started, reached or migrated."""
