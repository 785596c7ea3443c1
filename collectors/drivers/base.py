"""The one small protocol between drivers and the rest of the collector.

A driver owns one protocol client for one connection (a TCP endpoint or a serial
port). The connection worker (``collectors.worker``) decides timing, backoff and
health; a driver only connects, reads a poll group into samples, writes, and
closes, raising the typed errors of :mod:`collectors.errors`. Drivers that push
data (OPC UA subscriptions) hand samples to a :data:`SampleSink`, which must not
block: it only enqueues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from collectors.samples import Sample

SampleSink = Callable[[list[Sample]], None]


@runtime_checkable
class Driver(Protocol):
    connection_id: str

    async def connect(self) -> None:
        """Open the transport/session. Raises ConnectionLost or DeviceTimeout."""

    async def read_group(self, group: str) -> list[Sample]:
        """Read every tag of a poll group. When some requests fail, raise
        ``collectors.errors.PartialRead`` with the samples read and, per failed request,
        its tag names and typed error: the worker turns those into bad-quality samples.
        A whole-group failure raises the typed error itself (ConnectionLost, ...)."""

    async def write(self, tag: str, value: Any) -> None:
        """Write one tag's value (encoded like reads). The audited setpoint path calls this."""

    async def close(self) -> None:
        """Close the transport; never raises."""

    def health(self) -> dict[str, Any]:
        """Counters and state for metrics and ``linebrain status``."""
