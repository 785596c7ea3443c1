"""Subscriptions and monitored items of one session, and the path of a notification.

Why not asyncua's ``Subscription`` class: in handler mode it starts one task per
notification, and in iterator mode it keeps 1000 items and silently drops the
oldest. Here the publish callback only stamps the receive time and puts the
raw notification list into the driver's bounded :class:`Inbox`; one task turns
them into samples. When the inbox is full the callback waits, which holds back
the next Publish request, so the server's own queues (with their overflow bit)
take the backlog instead of us dropping data.

Monitored items are created in batches of MaxMonitoredItemsPerCall (halved on
BadTooManyOperations), spread over several subscriptions when the connection
caps items per subscription. Every result's StatusCode is checked: failed items
are reported (a bad sample each) and retried later, the good ones run.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asyncua import ua

from collectors.config.models import SubscriptionGroup
from collectors.drivers.opcua.failures import is_too_large
from collectors.drivers.opcua.fastpublish import FastDataChange
from collectors.drivers.opcua.limits import OperationLimits
from collectors.drivers.opcua.points import Point, change_sample, sample_of
from collectors.samples import Sample

log = logging.getLogger(__name__)
S = ua.StatusCodes
FILTER_REFUSED = frozenset({
    S.BadMonitoredItemFilterUnsupported,
    S.BadFilterNotAllowed,
    S.BadDeadbandFilterInvalid,
    S.BadMonitoredItemFilterInvalid,
})
TRIGGERS = {
    "Status": ua.DataChangeTrigger.Status,
    "StatusValue": ua.DataChangeTrigger.StatusValue,
    "StatusValueTimestamp": ua.DataChangeTrigger.StatusValueTimestamp,
}


@dataclass(slots=True)
class Monitored:
    """One subscribed tag on the current session."""

    point: Point
    group: SubscriptionGroup
    node_id: ua.NodeId | None = None
    deadband_type: int = 0
    deadband_value: float = 0.0
    server_handle: int | None = None
    status: int = 0

    def request(self) -> ua.MonitoredItemCreateRequest:
        params = ua.MonitoringParameters()
        params.ClientHandle = self.point.handle
        # Always explicit: a server's default sampling may be "as fast as possible" or very slow.
        params.SamplingInterval = self.group.sampling_interval * 1000.0
        params.QueueSize = self.group.queue_size
        params.DiscardOldest = True
        params.Filter = ua.DataChangeFilter(
            Trigger=TRIGGERS[self.group.trigger], DeadbandType=self.deadband_type, DeadbandValue=self.deadband_value
        )
        return ua.MonitoredItemCreateRequest(
            ItemToMonitor=ua.ReadValueId(NodeId=self.node_id, AttributeId=ua.AttributeIds.Value),
            MonitoringMode=ua.MonitoringMode.Reporting,
            RequestedParameters=params,
        )


class Inbox:
    """Bounded queue of raw notification lists between the publish loop and the sink."""

    def __init__(self, points: Sequence[Point], sink: Callable[[list[Sample]], None], max_pending: int) -> None:
        self._points = points
        self._sink = sink
        self.max_pending = max_pending  # notifications waiting for conversion, not publish responses
        self._queue: asyncio.Queue[tuple[datetime, list, bool]] = asyncio.Queue()
        self._drained = asyncio.Event()
        self.pending = 0
        self.notifications = 0
        self.bad_samples = 0  # everything emitted: bad notifications and the driver's own bad samples
        self.last_good: datetime | None = None
        self.waits = 0
        self.sink_errors = 0
        self.unknown_handles = 0
        self._rate_mark = (time.monotonic(), 0)
        self.rate = 0.0

    async def put(self, received: datetime, items: list, fast: bool = False) -> None:
        """Queue one notification list: asyncua MonitoredItemNotifications, or the tuples of
        :class:`~collectors.drivers.opcua.fastpublish.FastDataChange` when ``fast``."""
        if self.pending >= self.max_pending:
            self.waits += 1
            while self.pending >= self.max_pending:
                self._drained.clear()
                await self._drained.wait()
        self.pending += len(items)
        self._queue.put_nowait((received, items, fast))

    def emit(self, samples: list[Sample]) -> None:
        """Hand samples to the sink; a sink that raises is counted and logged, never fatal here."""
        if not samples:
            return
        self.bad_samples += sum(1 for sample in samples if sample.status >> 31)
        try:
            self._sink(samples)
        except Exception:
            self.sink_errors += 1
            if self.sink_errors == 1 or self.sink_errors % 1000 == 0:
                log.exception("the sample sink failed (%d times)", self.sink_errors)

    async def run(self) -> None:
        """Convert and deliver forever (cancelled by the driver's close)."""
        points = self._points
        while True:
            received, items, fast = await self._queue.get()
            try:
                if fast:
                    samples = [change_sample(points[h], v, status, source, server, received)
                               for h, v, status, source, server in items]
                else:
                    samples = [sample_of(points[item.ClientHandle], item.Value, received, received) for item in items]
            except IndexError:  # a handle we never gave out: keep the others
                samples = self._known_only(items, fast, received)
            self.pending -= len(items)
            self._drained.set()
            self.notifications += len(samples)
            for sample in reversed(samples):
                if sample.status >> 30 == 0:
                    self.last_good = sample.time
                    break
            self.emit(samples)

    def _known_only(self, items: list, fast: bool, received: datetime) -> list[Sample]:
        points, count = self._points, len(self._points)
        self.unknown_handles += 1
        if fast:
            return [change_sample(points[h], v, status, source, server, received)
                    for h, v, status, source, server in items if 0 <= h < count]
        return [sample_of(points[item.ClientHandle], item.Value, received, received)
                for item in items if 0 <= item.ClientHandle < count]

    def notifications_per_s(self) -> float:
        """Rate since the previous call (at most once a second updates the figure)."""
        now = time.monotonic()
        mark_time, mark_count = self._rate_mark
        if now - mark_time >= 1.0:
            self.rate = (self.notifications - mark_count) / (now - mark_time)
            self._rate_mark = (now, self.notifications)
        return self.rate


@dataclass(slots=True)
class _Subscription:
    subscription_id: int
    group: SubscriptionGroup
    items: int = 0
    publishing_interval: float = 0.0  # s, as revised
    keepalive_period: float = 0.0  # s
    last_publish: float = field(default_factory=time.monotonic)
    status_lost: bool = False


class SubscriptionSet:
    """The subscriptions of one session; dropped with the session (a new set per connect)."""

    def __init__(self, session, limits: OperationLimits, inbox: Inbox, max_items_per_subscription: int) -> None:
        self._session = session
        self._limits = limits
        self._inbox = inbox
        self._cap = max_items_per_subscription or math.inf
        self._subs: list[_Subscription] = []
        self._by_id: dict[int, _Subscription] = {}
        self.items_created = 0
        self.create_calls = 0
        self.deadbands = {"absolute": 0, "percent": 0}  # items created with each kind of deadband

    # ------------------------------------------------------------------ creation

    async def add(self, items: Sequence[Monitored]) -> list[Monitored]:
        """Create monitored items for ``items`` (with node ids); returns those the server refused."""
        failed: list[Monitored] = []
        by_group: dict[str, list[Monitored]] = {}
        for item in items:
            by_group.setdefault(item.group.name, []).append(item)
        for group_items in by_group.values():
            remaining = list(group_items)
            while remaining:
                sub = await self._subscription_with_room(group_items[0].group)
                room = int(min(self._cap - sub.items, len(remaining)))
                batch, remaining = remaining[:room], remaining[room:]
                failed.extend(await self._create_items(sub, batch))
        return failed

    async def _subscription_with_room(self, group: SubscriptionGroup) -> _Subscription:
        for sub in self._subs:
            if sub.group.name == group.name and sub.items < self._cap:
                return sub
        interval_ms = group.publishing_interval * 1000.0
        keepalive = max(1, math.ceil(1000.0 / interval_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=interval_ms,
            RequestedMaxKeepAliveCount=keepalive,
            RequestedLifetimeCount=max(keepalive * 3, math.ceil(60_000 / interval_ms)),
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        result = await self._session.create_subscription(params, self._on_publish)
        revised = result.RevisedPublishingInterval / 1000.0 or group.publishing_interval
        sub = _Subscription(
            result.SubscriptionId, group, publishing_interval=revised,
            keepalive_period=revised * max(1, result.RevisedMaxKeepAliveCount),
        )
        self._subs.append(sub)
        self._by_id[sub.subscription_id] = sub
        return sub

    async def _create_items(self, sub: _Subscription, items: list[Monitored]) -> list[Monitored]:
        failed: list[Monitored] = []
        step = self._limits.monitored_items_per_call
        for start in range(0, len(items), step):
            failed.extend(await self._create_chunk(sub, items[start:start + step]))
        return failed

    async def _create_chunk(self, sub: _Subscription, items: list[Monitored]) -> list[Monitored]:
        params = ua.CreateMonitoredItemsParameters(
            SubscriptionId=sub.subscription_id,
            TimestampsToReturn=ua.TimestampsToReturn.Both,
            ItemsToCreate=[item.request() for item in items],
        )
        try:
            self.create_calls += 1
            results = await self._session.create_monitored_items(params)
        except ua.UaStatusCodeError as exc:
            if not is_too_large(exc) or len(items) == 1:
                raise
            half = (len(items) + 1) // 2
            self._limits.monitored_items_per_call = min(self._limits.monitored_items_per_call, half)
            return await self._create_chunk(sub, items[:half]) + await self._create_chunk(sub, items[half:])
        failed: list[Monitored] = []
        retry_plain: list[Monitored] = []
        for item, result in zip(items, results, strict=True):
            code = result.StatusCode.value
            if code >> 30 == 0:
                item.server_handle = result.MonitoredItemId
                item.status = 0
                sub.items += 1
                self.items_created += 1
                if item.deadband_type:
                    kind = "percent" if item.deadband_type == int(ua.DeadbandType.Percent) else "absolute"
                    self.deadbands[kind] += 1
            elif code in FILTER_REFUSED and item.deadband_type:
                # The server cannot apply this deadband: keep the tag, without the deadband.
                item.deadband_type, item.deadband_value = 0, 0.0
                retry_plain.append(item)
            else:
                item.status = code
                failed.append(item)
        if retry_plain:
            failed.extend(await self._create_chunk(sub, retry_plain))
        return failed

    # ------------------------------------------------------------------ notifications

    async def _on_publish(self, result: ua.PublishResult) -> None:
        sub = self._by_id.get(result.SubscriptionId)
        if sub is not None:
            sub.last_publish = time.monotonic()
        data = result.NotificationMessage.NotificationData
        if not data:
            return
        received = datetime.now(UTC)
        for notification in data:
            if type(notification) is FastDataChange:
                await self._inbox.put(received, notification.changes, True)
            elif isinstance(notification, ua.DataChangeNotification):
                await self._inbox.put(received, notification.MonitoredItems)
            elif (
                isinstance(notification, ua.StatusChangeNotification)
                and sub is not None
                and notification.Status.value >> 30 != 0
            ):
                # BadTimeout: the server dropped the subscription; BadShutdown: the transport is gone.
                sub.status_lost = True

    # ------------------------------------------------------------------ health

    def stale(self, factor: float) -> str | None:
        """Why the session looks dead (no publish answer in time), or None when it is alive."""
        now = time.monotonic()
        for sub in self._subs:
            if sub.status_lost:
                return f"subscription {sub.subscription_id} reported a bad status"
            limit = factor * max(sub.publishing_interval, sub.keepalive_period)
            if now - sub.last_publish > limit:
                return f"no data or keep-alive for {now - sub.last_publish:.1f} s (limit {limit:.1f} s)"
        return None

    def arm(self) -> None:
        """Restart the keep-alive clocks (after a long creation phase)."""
        now = time.monotonic()
        for sub in self._subs:
            sub.last_publish = now

    @property
    def subscription_ids(self) -> list[int]:
        return [sub.subscription_id for sub in self._subs]

    @property
    def count(self) -> int:
        return len(self._subs)

    async def delete_all(self) -> None:
        if not self._subs:
            return
        ids = [sub.subscription_id for sub in self._subs]
        self._subs.clear()
        self._by_id.clear()
        await self._session.delete_subscriptions(ids)
