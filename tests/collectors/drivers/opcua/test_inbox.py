"""The inbox between the publish loop and the sink: bounded, and a full inbox makes Publish wait."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from collectors.config.models import Tag
from collectors.drivers.opcua.points import Point
from collectors.drivers.opcua.subscriptions import Inbox


async def test_a_full_inbox_holds_back_the_publish_callback_until_the_sink_caught_up():
    points = [Point.of(i, Tag(name=f"t{i}", connection="c", node_id=f"i={i + 1}")) for i in range(4)]
    delivered: list = []
    inbox = Inbox(points, delivered.extend, max_pending=5)
    now = datetime.now(UTC)
    batch = [(i, float(i), 0, now, now) for i in range(4)]
    await inbox.put(now, batch, True)
    await inbox.put(now, batch, True)  # 4 pending < 5: accepted, now 8
    blocked = asyncio.create_task(inbox.put(now, batch, True))
    await asyncio.sleep(0.05)
    assert not blocked.done() and inbox.pending == 8 and inbox.waits == 1
    runner = asyncio.create_task(inbox.run())
    await asyncio.wait_for(blocked, 1)
    await asyncio.sleep(0.05)
    runner.cancel()
    assert len(delivered) == 12 and inbox.pending == 0
    assert [s.value for s in delivered[:4]] == [0.0, 1.0, 2.0, 3.0]


async def test_a_failing_sink_is_counted_and_delivery_goes_on():
    points = [Point.of(0, Tag(name="t0", connection="c", node_id="i=1"))]
    calls: list = []

    def sink(samples):
        calls.append(samples)
        if len(calls) == 1:
            raise RuntimeError("store hiccup")

    inbox = Inbox(points, sink, max_pending=100)
    now = datetime.now(UTC)
    runner = asyncio.create_task(inbox.run())
    await inbox.put(now, [(0, 1.0, 0, now, now)], True)
    await inbox.put(now, [(0, 2.0, 0, now, now)], True)
    await asyncio.sleep(0.05)
    runner.cancel()
    assert len(calls) == 2 and inbox.sink_errors == 1


async def test_an_unknown_client_handle_is_skipped_not_fatal():
    points = [Point.of(0, Tag(name="t0", connection="c", node_id="i=1"))]
    delivered: list = []
    inbox = Inbox(points, delivered.extend, max_pending=100)
    now = datetime.now(UTC)
    runner = asyncio.create_task(inbox.run())
    await inbox.put(now, [(0, 1.0, 0, now, now), (99, 2.0, 0, now, now)], True)
    await asyncio.sleep(0.05)
    runner.cancel()
    assert [s.tag for s in delivered] == ["t0"] and inbox.unknown_handles == 1
