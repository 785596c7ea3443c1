"""Error hierarchy shared by collectors and mes.

Every error LineBrain raises on purpose derives from :class:`LineBrainError`, so a
caller can catch one type and still tell a bad config from a dead device.
"""

from __future__ import annotations


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


class StoreError(LineBrainError):
    """The sample store could not persist or replay data."""


class DatabaseError(LineBrainError):
    """The database could not be started, reached or migrated."""
