"""The S7 driver: poll groups read as planned multi-variable requests, each request's failure isolated.

It implements :class:`collectors.drivers.base.Driver` with the Modbus driver's
rules: a request that fails is reported in :class:`~collectors.errors.PartialRead`
with its tags (they become bad samples) and the other requests of the cycle
still run; an address the PLC refuses (a data block that does not exist or is
too short: S7 item error) marks only that request's tags bad, once logged, and
does not reconnect; a lost connection or a protocol error ends the cycle with
the rest reported and the worker drops the connection; timeouts count toward
``reconnect_after_timeouts``. snap7's client is blocking: each call runs in a
thread, one at a time (the PLC answers one request per connection anyway).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import snap7
from snap7.error import S7Error, S7TimeoutError
from snap7.type import WordLen

from collectors.config.models import S7Connection, Tag
from collectors.drivers.s7.address import S7Address, S7Type, decode, encode
from collectors.drivers.s7.planner import S7Request, addresses, plan_requests
from collectors.errors import BadAddress, ConnectionLost, DeviceError, DeviceTimeout, PartialRead, WriteRefused
from collectors.samples import Sample
from collectors.worker import ConnectionWorker

log = logging.getLogger(__name__)


# S7 item return codes that mean "this address, not the connection": 0x05 address out of range, 0x06 type not
# supported, 0x07 type inconsistent, 0x0a object does not exist (snap7 words them so in its errors).
_ITEM_ERRORS = ("object does not exist", "address out of range", "out of range", "not supported", "inconsistent")


def _typed(exc: BaseException) -> DeviceError:
    """snap7's exceptions → the worker's typed errors."""
    if isinstance(exc, S7TimeoutError | TimeoutError):
        return DeviceTimeout(str(exc) or "S7 request timed out")
    if isinstance(exc, S7Error) and any(words in str(exc).lower() for words in _ITEM_ERRORS):
        return BadAddress(str(exc))
    return ConnectionLost(f"{type(exc).__name__}: {exc}")


class S7Driver:
    """One S7 connection: connect, read a poll group, write a tag, close."""

    def __init__(self, connection: S7Connection, tags: Sequence[Tag]) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self.tags = list(tags)
        self.addresses: dict[str, S7Address] = dict(addresses(self.tags))
        self.poll_groups = {group.name: group.interval for group in connection.poll_groups}
        self.group_tags: dict[str, list[str]] = {}
        for tag in self.tags:
            self.group_tags.setdefault(tag.group, []).append(tag.name)
        self.pdu_size = connection.pdu_size
        self.plans: dict[str, list[S7Request]] = {}
        self._client: Any = None
        self._refused: set[tuple[int, int, int]] = set()  # blocks whose address the PLC refuses (logged once)
        # Polls and setpoint writes share one client, each call in a worker thread: one call at a time, held
        # in the thread itself, so a read whose wait timed out still finishes before the next call starts.
        self._one_call = threading.Lock()
        self.requests = 0
        self.failures = 0

    async def connect(self) -> None:
        client = snap7.client.Client()
        client.pdu_length = self.connection.pdu_size  # asked for; the PLC answers with what it gives
        try:
            await asyncio.wait_for(asyncio.to_thread(client.connect, self.connection.host, self.connection.rack,
                                                     self.connection.slot, self.connection.port),
                                   self.connection.timeout + 1)  # fmt: skip
        except (TimeoutError, S7Error, OSError) as exc:
            raise ConnectionLost(f"S7 {self.connection.host}:{self.connection.port}: {exc}") from exc
        self._client = client
        self.pdu_size = int(client.pdu_length)
        self.plans = {group: plan_requests([(n, self.addresses[n]) for n in names], self.pdu_size,
                                           self.connection.max_gap)
                      for group, names in self.group_tags.items()}  # fmt: skip
        log.info("S7 %s connected (PDU %d bytes, %d requests per cycle)", self.connection_id, self.pdu_size,
                 sum(len(plan) for plan in self.plans.values()))  # fmt: skip

    async def read_group(self, group: str) -> list[Sample]:
        samples: list[Sample] = []
        failed: list[tuple[list[str], DeviceError]] = []
        requests = self.plans.get(group, [])
        for index, request in enumerate(requests):
            try:
                samples += await self._read(request)
            except BadAddress as error:
                if len(request.blocks) == 1:
                    failed.append(self._refused_block(request, error))
                    continue
                for block in request.blocks:  # one item is refused: find it, keep the others
                    single = S7Request([block])
                    try:
                        samples += await self._read(single)
                    except BadAddress as refused:
                        failed.append(self._refused_block(single, refused))
            except DeviceError as error:
                names = [name for block in request.blocks for name, _ in block.tags]
                failed.append((names, error))
                rest = [name for later in requests[index + 1 :] for block in later.blocks for name, _ in block.tags]
                if rest:
                    failed.append((rest, error))
                break
        if failed:
            raise PartialRead(samples, failed)
        return samples

    def _refused_block(self, request: S7Request, error: DeviceError) -> tuple[list[str], DeviceError]:
        """The tags of a request whose address the PLC refuses (logged once per block, not every cycle)."""
        block = request.blocks[0]
        key = (int(block.area), block.db, block.start)
        if key not in self._refused:
            self._refused.add(key)
            log.error("S7 %s refuses %s: %s", self.connection_id, block, error)
        return [name for name, _ in block.tags], error

    async def _read(self, request: S7Request) -> list[Sample]:
        if self._client is None:
            raise ConnectionLost("not connected")
        self.requests += 1
        asked = datetime.now(UTC)
        try:
            items = [block.item() for block in request.blocks]
            _, data = await asyncio.wait_for(asyncio.to_thread(self._call, self._client.read_multi_vars, items),
                                             self.connection.timeout)  # fmt: skip
        except (TimeoutError, S7Error, OSError, RuntimeError, ValueError) as exc:
            self.failures += 1
            raise _typed(exc) from exc
        answered = datetime.now(UTC)
        moment = asked + (answered - asked) / 2
        samples: list[Sample] = []
        for block, buffer in zip(request.blocks, data, strict=True):
            for name, address in block.tags:
                samples.append(Sample(name, moment, decode(address, buffer, address.offset - block.start),
                                      received=answered))  # fmt: skip
        return samples

    async def read_tag(self, tag: str) -> Sample:
        """Read one tag now, on its own request: the read-back of a setpoint write (polls never wait)."""
        address = self.addresses.get(tag)
        if address is None:
            raise BadAddress(f"{tag} is not a tag of S7 connection {self.connection_id}")
        [request] = plan_requests([(tag, address)], self.pdu_size)
        [sample] = await self._read(request)
        return sample

    async def write(self, tag: str, value: Any) -> None:
        """Write one tag (the setpoint queue's, after its checks: collectors/setpoints.py)."""
        address = self.addresses.get(tag)
        if address is None:
            raise WriteRefused(f"{tag} is not a tag of S7 connection {self.connection_id}")
        if self._client is None:
            raise ConnectionLost("not connected")
        client = self._client
        try:
            if address.type is S7Type.BOOL:  # one bit, not its byte: the other seven belong to the PLC program
                await asyncio.to_thread(self._call, client.write_area, address.area, address.db,
                                        address.offset * 8 + address.sub,
                                        bytearray([1 if value else 0]), WordLen.Bit)  # fmt: skip
            else:
                await asyncio.to_thread(self._call, client.write_area, address.area, address.db, address.offset,
                                        encode(address, value))  # fmt: skip
        except (S7Error, OSError, RuntimeError) as exc:
            raise _typed(exc) from exc

    def _call(self, method: Any, *args: Any) -> Any:
        with self._one_call:
            return method(*args)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.to_thread(client.disconnect)
            except Exception as exc:  # closing must never raise
                log.debug("S7 %s: disconnect: %s", self.connection_id, exc)

    def health(self) -> dict[str, Any]:
        return {"connection": self.connection_id, "protocol": "s7", "pdu_size": self.pdu_size,
                "requests": self.requests, "failures": self.failures}  # fmt: skip


def s7_worker(connection: S7Connection, tags: Sequence[Tag], sink: Any) -> ConnectionWorker:
    """A connection worker polling ``tags`` of ``connection`` into ``sink``."""
    driver = S7Driver(connection, tags)
    return ConnectionWorker(driver, driver.poll_groups, sink, group_tags=driver.group_tags,
                            reconnect_after_timeouts=connection.reconnect_after_timeouts,
                            connect_timeout=connection.timeout + 2.0)  # fmt: skip
