"""The OPC UA driver: one connection, its session, its polled groups and subscriptions.

Life of a connection: :meth:`OpcuaDriver.connect` builds a fresh asyncua client,
opens a secure channel and one session, reads the namespace array and the
operation limits and resolves every tag's node. A watchdog task then creates
the subscriptions (outside ``connect``: 10k items take longer than a worker's
connect deadline) and checks the session: the transport state, and for
subscriptions that some publish answer (data or keep-alive) arrived within
``keepalive_factor`` × the keep-alive period, confirmed by a Read before the
session is given up (a saturated server answers late, not never). On a loss it
reports the subscribed tags as ``BadNoCommunication``, closes the old session
when the transport still works, and connects again with exponential backoff
and jitter. When only the socket died, the new client re-activates the session
the server still holds (its token kept in a 0600 file) and deletes that
session's old subscriptions, so no session is left behind. A new client object every time: a
client that failed half-way keeps state that is not worth trusting.

The connection worker may also call ``connect``/``close`` and ``read_group``;
``connect`` is idempotent and serialised with the watchdog's reconnects by a
lock, so there is never more than one live session per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.ua import status_codes

from collectors.config.models import OpcuaConnection, SubscriptionGroup, Tag
from collectors.drivers.base import SampleSink
from collectors.drivers.opcua.addressing import Resolved, have_eu_range, read_namespace_array, resolve_addresses
from collectors.drivers.opcua.failures import SecurityError, as_device_error
from collectors.drivers.opcua.fastpublish import install as install_fast_publish
from collectors.drivers.opcua.limits import OperationLimits, read_operation_limits
from collectors.drivers.opcua.points import Point, bad_sample, sample_of
from collectors.drivers.opcua.reading import ChunkedReader, read_parameters
from collectors.drivers.opcua.security import apply_security, default_pki_dir
from collectors.drivers.opcua.subscriptions import Inbox, Monitored, SubscriptionSet
from collectors.drivers.opcua.writing import write_value
from collectors.errors import BadAddress, ConnectionLost, DeviceError, WriteRefused
from collectors.samples import BAD_NO_COMMUNICATION, BAD_NODE_ID_UNKNOWN, Sample

log = logging.getLogger(__name__)
S = ua.StatusCodes
_SECURITY_REFUSALS = {
    S.BadCertificateUntrusted: "the server does not trust our client certificate (add it to the server's trust list)",
    S.BadCertificateInvalid: "the server rejected our client certificate as invalid",
    S.BadSecurityChecksFailed: "the server's security checks failed (certificate not trusted or wrong policy)",
    S.BadSecurityPolicyRejected: "the server rejected the security policy",
    S.BadUserAccessDenied: "user name or password rejected",
    S.BadIdentityTokenInvalid: "user identity token invalid",
    S.BadIdentityTokenRejected: "user identity token rejected (wrong user name, password or certificate)",
    S.BadCertificateUriInvalid: "the server rejected our certificate's application URI",
}


class OpcuaDriver:
    """Driver for one OPC UA connection. See the module docstring for the life cycle.

    ``sink`` receives subscription samples (and the bad-status samples of tags
    that could not be subscribed or lost their connection); it must not block.
    ``max_queue`` bounds the notifications received but not yet converted; when it
    is reached the next Publish waits (the server queues, flagging overflow).
    """

    def __init__(
        self,
        connection: OpcuaConnection,
        tags: Sequence[Tag],
        sink: SampleSink | None = None,
        *,
        pki_dir: Path | None = None,
        max_queue: int = 200_000,
        retry_interval: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        fast_publish: bool = True,
    ) -> None:
        self.connection_id = connection.id
        self.connection = connection
        self._pki_dir = pki_dir or default_pki_dir()
        mine = [tag for tag in tags if tag.connection == connection.id]
        self._points = [Point.of(handle, tag) for handle, tag in enumerate(mine)]
        self._by_name = {point.name: point for point in self._points}
        self._unresolved_logged: set[str] = set()
        self._polled: dict[str, list[Point]] = {}
        for point in self._points:
            if point.tag.mode == "poll":
                self._polled.setdefault(point.tag.group, []).append(point)
        groups = {group.name: group for group in connection.subscriptions}
        self._subscribed = [
            (point, groups.get(point.tag.group, SubscriptionGroup(name=point.tag.group)))
            for point in self._points
            if point.tag.mode == "subscribe"
        ]
        self._sink = sink
        self._inbox = Inbox(self._points, sink if sink is not None else _discard, max_queue)
        self._retry_interval = retry_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._fast_publish = fast_publish
        self._lock = asyncio.Lock()
        self._client: Client | None = None
        self._resolved: list[Resolved] = []
        self._reader: ChunkedReader | None = None
        self._subscriptions: SubscriptionSet | None = None
        self._failed: list[Monitored] = []
        self.limits = OperationLimits()
        self._state = "disconnected"
        self._last_error: str | None = None
        self._session_started: float | None = None
        self._connects = 0
        self._late_publishes = 0
        self._orphans: list[int] = []
        self._session_file = self._pki_dir / "sessions" / f"{connection.id}.json"  # claimed at connect()
        self._session_lock: int | None = None
        self._next_probe = 0.0
        self._watchdog: asyncio.Task[None] | None = None
        self._inbox_task: asyncio.Task[None] | None = None
        self._closing = False
        self._write_types: dict[str, ua.VariantType] = {}
        # Set once the subscriptions of the current session exist (tests and benches wait on it).
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------------ Driver protocol

    async def connect(self) -> None:
        """Open a session (if none is live) and start the watchdog. Raises ConnectionLost,
        DeviceTimeout or SecurityError (untrusted server, rejected login)."""
        self._closing = False
        if self._session_lock is None:
            self._session_file = self._claim_session_file()
        if self._connects == 0:
            # A session token left by an earlier process is not ours to resume: its subscriptions are unknown.
            self._session_file.unlink(missing_ok=True)
            self._orphans.clear()
        if self._sink is not None and (self._inbox_task is None or self._inbox_task.done()):
            self._inbox_task = asyncio.create_task(self._inbox.run(), name=f"opcua-inbox-{self.connection_id}")
        async with self._lock:
            if self._state != "connected":
                await self._open()
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._watch(), name=f"opcua-watchdog-{self.connection_id}")

    async def read_group(self, group: str) -> list[Sample]:
        """Bulk-read a poll group's DataValues; unknown nodes come back as bad samples."""
        points = self._polled.get(group, [])
        if not points:
            return []
        reader, resolved = self._reader, self._resolved
        if self._state != "connected" or reader is None:
            raise ConnectionLost(f"{self.connection_id}: not connected ({self._last_error or self._state})")
        readable = [point for point in points if resolved[point.handle].node_id is not None]
        started = datetime.now(UTC)
        try:
            values = await reader.read([node for point in readable if (node := resolved[point.handle].node_id)])
        except Exception as exc:
            error = as_device_error(exc, f"{self.connection_id}: read of group {group}")
            if isinstance(error, ConnectionLost):
                self._mark_lost(str(error))
            raise error from exc
        received = datetime.now(UTC)
        midpoint = started + (received - started) / 2
        samples = [sample_of(point, value, received, midpoint) for point, value in zip(readable, values, strict=True)]
        for point, sample in zip(readable, samples, strict=True):
            if sample.status in _NODE_PROBLEMS:
                self._log_unusable(point, sample.status)
        for point in points:
            status = resolved[point.handle].status
            if status:
                samples.append(bad_sample(point, status, received))
        for sample in reversed(samples):
            if sample.status >> 30 == 0:
                self._inbox.last_good = max(self._inbox.last_good or sample.time, sample.time)
                break
        return samples

    async def write(self, tag: str, value: Any) -> None:
        """Write one tag (inverse of its scale/offset), as the server's data type. Raises BadAddress
        for an unknown or unwritable node, DeviceError for other refusals."""
        point = self._by_name.get(tag)
        if point is not None and not point.tag.writable:
            raise WriteRefused(f"tag {tag} is not writable (set writable: true in the plant config)")
        node_id = self._node_of(tag)
        assert point is not None and self._client is not None
        raw = (value - point.offset) / point.scale if point.scaled and isinstance(value, int | float) else value
        try:
            await write_value(self._client.uaclient, node_id, raw, self._write_types, point.address)
        except DeviceError:
            raise
        except Exception as exc:
            raise as_device_error(exc, f"{self.connection_id}: write of {tag}") from exc

    async def read_tag(self, tag: str) -> Sample:
        """Read one tag's DataValue now (the read-back of a write), with its status and timestamps."""
        node_id = self._node_of(tag)
        assert self._client is not None
        started = datetime.now(UTC)
        try:
            [value] = await self._client.uaclient.read(read_parameters([node_id]))
        except Exception as exc:
            raise as_device_error(exc, f"{self.connection_id}: read of {tag}") from exc
        return sample_of(self._by_name[tag], value, datetime.now(UTC), started)

    def _node_of(self, tag: str) -> ua.NodeId:
        """The resolved node of a tag of this connection; BadAddress or ConnectionLost when there is none."""
        point = self._by_name.get(tag)
        if point is None:
            raise BadAddress(f"{self.connection_id}: no tag {tag!r} on this connection")
        if self._state != "connected" or self._client is None:
            raise ConnectionLost(f"{self.connection_id}: not connected")
        node_id = self._resolved[point.handle].node_id
        if node_id is None:
            raise BadAddress(f"{self.connection_id}: tag {tag} has no node on the server ({point.address})")
        return node_id

    async def close(self) -> None:
        """Stop the watchdog, delete subscriptions, close the session and the channel. Never raises."""
        self._closing = True
        for task in (self._watchdog, self._inbox_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._watchdog = self._inbox_task = None
        async with self._lock:
            await self._drop_session(final=True)
            self._state = "disconnected"
        if self._session_lock is not None:
            os.close(self._session_lock)  # releases the slot
            self._session_lock = None

    def _claim_session_file(self) -> Path:
        """This process's session file for the connection: ``sessions/<id>.json`` under the PKI folder, or
        ``<id>.2.json``, ... when another process (or driver) holds that one. A slot is held by an flock on its
        ``.lock`` file while the driver is connected, so two processes never resume one session; a restarted
        process gets the first free slot again."""
        folder = self._pki_dir / "sessions"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for slot in range(1, 1000):
            name = self.connection_id if slot == 1 else f"{self.connection_id}.{slot}"
            handle = os.open(folder / f"{name}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            self._session_lock = handle
            return folder / f"{name}.json"
        raise ConnectionLost(f"{self.connection_id}: 999 session files in {folder} are in use")

    def health(self) -> dict[str, Any]:
        """Connection state and counters, for metrics and ``linebrain status``."""
        subs = self._subscriptions
        return {
            "connection": self.connection_id,
            "protocol": "opcua",
            "endpoint": self.connection.endpoint,
            "state": self._state,
            "last_error": self._last_error,
            "session_age_s": round(time.monotonic() - self._session_started, 1) if self._session_started else None,
            "reconnects": max(0, self._connects - 1),
            "last_good_sample": self._inbox.last_good.isoformat() if self._inbox.last_good else None,
            "notifications": self._inbox.notifications,
            "bad_samples": self._inbox.bad_samples,
            "notifications_per_s": round(self._inbox.notifications_per_s(), 1),
            "queue_depth": self._inbox.pending,
            "queue_full_waits": self._inbox.waits,
            "sink_errors": self._inbox.sink_errors,
            "unknown_handles": self._inbox.unknown_handles,
            "late_publishes": self._late_publishes,
            "subscribing": self._state == "connected" and self._wants_subscriptions(),
            "subscriptions": subs.count if subs else 0,
            "monitored_items": subs.items_created if subs else 0,
            "deadband_items": dict(subs.deadbands) if subs else {"absolute": 0, "percent": 0},
            "failed_items": len(self._failed),
            "unresolved_tags": sum(1 for item in self._resolved if item.node_id is None),
            "nodes_per_read": self._reader.limit if self._reader else self.limits.nodes_per_read,
            "read_requests": self._reader.requests if self._reader else 0,
            "limits": self.limits.as_dict(),
        }

    # ------------------------------------------------------------------ session life

    async def _open(self) -> None:
        """One connect attempt on a fresh client; leaves nothing open when it fails."""
        await self._drop_session()
        self.subscribed.clear()
        self._state = "connecting"
        conn = self.connection
        client = Client(conn.endpoint, timeout=conn.timeout, watchdog_intervall=max(5.0, 2 * conn.timeout))
        client.session_timeout = int(conn.session_timeout * 1000)
        client.session_state_path = self._session_file
        self._client = client
        try:
            await apply_security(client, conn.security, self._pki_dir, conn.endpoint)
            await asyncio.wait_for(client.connect(), timeout=conn.timeout * 3)
            session = client.uaclient
            await self._delete_orphans(session)
            if self._fast_publish:
                install_fast_publish(session.session)
            self._session_started = time.monotonic()
            namespaces = await read_namespace_array(session)
            self.limits = await read_operation_limits(session, conn.max_nodes_per_read)
            self._resolved = await resolve_addresses(
                session, [point.address for point in self._points], namespaces, self.limits.nodes_per_translate
            )
            self._log_unresolved()
            self._reader = ChunkedReader(session, self.limits.nodes_per_read, conn.max_concurrent_reads)
        except BaseException as exc:
            self._state = "disconnected"
            await self._drop_session()
            if isinstance(exc, asyncio.CancelledError):
                raise
            error = self._connect_error(exc)
            self._last_error = str(error)
            raise error from exc
        self._connects += 1
        self._state = "connected"
        self._last_error = None
        log.info("%s: connected to %s (%d tags)", self.connection_id, conn.endpoint, len(self._points))

    def _log_unresolved(self) -> None:
        """Browse paths that do not resolve on this session (node ids are checked by the server's answers)."""
        for point, found in zip(self._points, self._resolved, strict=True):
            if found.node_id is None:
                self._log_unusable(point, found.status or BAD_NODE_ID_UNKNOWN)

    def _log_unusable(self, point: Point, status: int) -> None:
        """Say once per tag (not per read or reconnect) that its node cannot be used and why; its samples are
        stored Bad meanwhile, and a retry runs every few seconds."""
        if point.name in self._unresolved_logged:
            return
        self._unresolved_logged.add(point.name)
        name, doc = status_codes.get_name_and_doc(status)
        log.warning("%s: tag %s: node %s cannot be resolved: %s (%s); stored Bad until it resolves",
                    self.connection_id, point.name, point.address, name, doc.rstrip("."))  # fmt: skip

    def _connect_error(self, exc: BaseException) -> DeviceError:
        if isinstance(exc, SecurityError):
            return exc
        if isinstance(exc, ua.UaStatusCodeError) and exc.code in _SECURITY_REFUSALS:
            return SecurityError(f"{self.connection.endpoint}: {_SECURITY_REFUSALS[exc.code]} ({exc})")
        if isinstance(exc, ua.UaError) and "endpoint" in str(exc).lower():
            return SecurityError(f"{self.connection.endpoint}: {exc}")
        return as_device_error(exc, f"connect to {self.connection.endpoint}")

    async def _subscribe(self, session) -> None:
        """Create the subscriptions of every subscribed tag that has a node; report the others."""
        items: list[Monitored] = []
        now = datetime.now(UTC)
        unresolved = []
        for point, group in self._subscribed:
            resolved = self._resolved[point.handle]
            if resolved.node_id is None:
                unresolved.append(Monitored(point, group, status=resolved.status))
                continue
            item = Monitored(point, group, resolved.node_id)
            if point.tag.deadband > 0:
                item.deadband_type, item.deadband_value = int(ua.DeadbandType.Absolute), point.tag.deadband
            items.append(item)
        await self._apply_percent_deadbands(session, items)
        self._subscriptions = SubscriptionSet(
            session, self.limits, self._inbox, self.connection.max_items_per_subscription
        )
        refused = await self._subscriptions.add(items)
        self._subscriptions.arm()
        self._failed = unresolved + refused
        for item in refused:
            self._log_unusable(item.point, item.status or BAD_NODE_ID_UNKNOWN)
        self._inbox.emit([bad_sample(item.point, item.status or BAD_NODE_ID_UNKNOWN, now) for item in self._failed])

    async def _apply_percent_deadbands(self, session, items: list[Monitored]) -> None:
        """Percent deadband where the node has an EURange; else the tag's own range as an absolute one."""
        wanted = [item for item in items if item.point.tag.deadband_percent > 0]
        if not wanted:
            return
        nodes = [item.node_id for item in wanted if item.node_id is not None]
        found = await have_eu_range(session, nodes, self.limits.nodes_per_translate)
        for item, has_range in zip(wanted, found, strict=True):
            percent = item.point.tag.deadband_percent
            if has_range:
                item.deadband_type, item.deadband_value = int(ua.DeadbandType.Percent), percent
            elif item.point.tag.range is not None:
                low, high = item.point.tag.range
                item.deadband_type, item.deadband_value = int(ua.DeadbandType.Absolute), (high - low) * percent / 100
            else:
                log.warning("%s: %s has no EURange and no range: percent deadband ignored",
                            self.connection_id, item.point.name)

    async def _retry_failed(self) -> None:
        """Try the refused or unresolved subscriptions again; the running ones are untouched."""
        if not self._failed or self._client is None or self._subscriptions is None:
            return
        session = self._client.uaclient
        namespaces = await read_namespace_array(session)
        addresses = [item.point.address for item in self._failed]
        resolved = await resolve_addresses(session, addresses, namespaces, self.limits.nodes_per_translate)
        ready, still = [], []
        for item, found in zip(self._failed, resolved, strict=True):
            self._resolved[item.point.handle] = found
            if found.node_id is None:
                item.status = found.status
                still.append(item)
            else:
                item.node_id = found.node_id
                ready.append(item)
        refused = await self._subscriptions.add(ready) if ready else []
        self._failed = still + refused

    async def _drop_session(self, final: bool = False) -> None:
        """Close the current client's session and channel (best effort, bounded in time).

        When the transport is already gone the server still holds our session; unless
        ``final``, its token stays in the session file so the next client re-activates
        that session on its new channel (and deletes its old subscriptions) instead of
        leaving it behind until the server times it out.
        """
        client, self._client = self._client, None
        subs, self._subscriptions = self._subscriptions, None
        self._reader = None
        self._session_started = None
        if client is None:
            return
        alive = client.uaclient.state is UaClientState.CONNECTED
        try:
            if subs is not None and alive:
                await asyncio.wait_for(subs.delete_all(), timeout=self.connection.timeout)
        except Exception:
            pass
        if final:
            self._orphans.clear()  # the session file goes too: nothing will be resumed
        elif subs is not None and not alive:
            self._orphans.extend(subs.subscription_ids)
        if not final:
            client.session_state_path = None  # keep the file: the next client may resume this session
        try:
            await asyncio.wait_for(client.disconnect(), timeout=self.connection.timeout)
        except Exception:
            client.disconnect_socket()

    async def _delete_orphans(self, session) -> None:
        """Delete the subscriptions a resumed session still carries from before the loss."""
        orphans, self._orphans = self._orphans, []
        if not orphans:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.delete_subscriptions(orphans), timeout=self.connection.timeout)

    def _mark_lost(self, reason: str) -> None:
        if self._state == "connected":
            log.warning("%s: connection lost: %s", self.connection_id, reason)
            self._state = "lost"
            self._last_error = reason

    # ------------------------------------------------------------------ watchdog

    async def _watch(self) -> None:
        """Detect a dead session, then reconnect with backoff and jitter; retry refused items."""
        next_retry = time.monotonic() + self._retry_interval
        while not self._closing:
            if self._state == "connected" and self._wants_subscriptions():
                # Created here, not in connect(): 10k items take longer than a worker's connect deadline.
                try:
                    async with self._lock:
                        if self._client is not None and self._subscriptions is None:
                            await self._subscribe(self._client.uaclient)
                    self.subscribed.set()
                except Exception as exc:
                    self._mark_lost(str(as_device_error(exc, "create subscriptions")))
            await asyncio.sleep(0.2)
            if self._state == "connected":
                reason = await self._why_dead()
                if reason is None:
                    if self._failed and time.monotonic() >= next_retry:
                        next_retry = time.monotonic() + self._retry_interval
                        await self._retry_quietly()
                    continue
                self._mark_lost(reason)
            await self._reconnect()

    def _wants_subscriptions(self) -> bool:
        return bool(self._subscribed) and self._sink is not None and self._subscriptions is None

    async def _why_dead(self) -> str | None:
        """Transport closed, or no publish answer in time and the server does not answer a Read either.

        A server saturated by a burst can answer publish requests late while the
        session is fine; reconnecting then would only add load. So silence past the
        keep-alive limit triggers a probe, and only a failed probe (or silence ten
        times the limit) counts as a dead session.
        """
        client = self._client
        if client is None or client.uaclient.state is not UaClientState.CONNECTED:
            return "transport closed"
        if self._subscriptions is None:
            return None
        silence = self._subscriptions.stale(self.connection.keepalive_factor)
        if silence is None:
            return None
        if self._subscriptions.stale(self.connection.keepalive_factor * 10) is not None:
            return silence
        if time.monotonic() < self._next_probe:
            return None
        try:
            await asyncio.wait_for(read_namespace_array(client.uaclient), timeout=self.connection.timeout)
        except Exception as exc:
            return f"{silence}; the server does not answer a Read either ({type(exc).__name__})"
        self._late_publishes += 1
        self._next_probe = time.monotonic() + max(1.0, self.connection.timeout)  # one probe per grace period
        return None

    async def _retry_quietly(self) -> None:
        try:
            async with self._lock:
                await self._retry_failed()
        except Exception as exc:
            log.info("%s: retry of refused items failed: %s", self.connection_id, exc)

    async def _reconnect(self) -> None:
        now = datetime.now(UTC)
        self._inbox.emit([bad_sample(point, BAD_NO_COMMUNICATION, now) for point, _ in self._subscribed])
        delay = self._backoff_initial
        while not self._closing:
            try:
                async with self._lock:
                    if self._state == "connected":
                        return
                    await self._open()
                return
            except SecurityError as exc:
                log.error("%s: %s", self.connection_id, exc)
                delay = self._backoff_max
            except DeviceError as exc:
                log.info("%s: reconnect failed: %s", self.connection_id, exc)
            self._state = "reconnecting"
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self._backoff_max)


# Statuses of a read that mean the node itself is unusable (not a passing device condition).
_NODE_PROBLEMS = frozenset({
    ua.StatusCodes.BadNodeIdUnknown, ua.StatusCodes.BadNodeIdInvalid, ua.StatusCodes.BadAttributeIdInvalid,
    ua.StatusCodes.BadNotReadable, ua.StatusCodes.BadUserAccessDenied,
})  # fmt: skip


def _discard(samples: list[Sample]) -> None:
    """Sink of a driver used only for polling (the worker takes read_group's samples)."""
