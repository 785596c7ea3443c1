"""The connection worker: deadlines without drift, overruns skipped, errors → quality in one place.

The driver here is a scripted stand-in for the Driver protocol (no protocol is
involved); the Modbus tests run the worker against real servers.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from typing import Any

from collectors.errors import ConnectionLost, DeviceTimeout, PartialRead, ProtocolOutOfStep
from collectors.samples import BAD_COMMUNICATION_ERROR, BAD_NO_COMMUNICATION, BAD_TIMEOUT, GOOD, Sample
from collectors.worker import Backoff, ConnectionWorker


class ScriptedDriver:
    """Answers reads with ``behaviour(group, call_number)``: a list of samples or an exception."""

    connection_id = "scripted"

    def __init__(self, behaviour: Callable[[str, int], Any], read_time: float = 0.0) -> None:
        self.behaviour = behaviour
        self.read_time = read_time
        self.calls: list[tuple[str, float]] = []
        self.ends: list[float] = []  # loop time each read returned
        self.connects = 0
        self.closes = 0

    async def connect(self) -> None:
        self.connects += 1

    async def read_group(self, group: str) -> list[Sample]:
        loop = asyncio.get_running_loop()
        self.calls.append((group, loop.time()))
        if self.read_time:
            await asyncio.sleep(self.read_time)
        result = self.behaviour(group, len(self.calls))
        self.ends.append(loop.time())
        if isinstance(result, BaseException):
            raise result
        return result

    async def write(self, tag: str, value: Any) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self.closes += 1

    def health(self) -> dict[str, Any]:
        return {"calls": len(self.calls)}


def good(name: str = "t1") -> list[Sample]:
    from datetime import UTC, datetime

    return [Sample(name, datetime.now(UTC), 1.0)]


async def run_for(worker: ConnectionWorker, seconds: float) -> None:
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(seconds)
    worker.stop()
    await asyncio.wait_for(task, 5)


async def test_reads_follow_the_deadline_grid_without_drift() -> None:
    driver = ScriptedDriver(lambda g, n: good(), read_time=0.004)
    worker = ConnectionWorker(driver, {"fast": 0.02}, lambda s: None)
    await run_for(worker, 1.0)
    starts = [t for _, t in driver.calls]
    health = worker.health()["groups"]["fast"]
    grid = worker.groups[0]
    # Each read belongs to the grid deadline at or before its start (base + k * 20 ms). A loaded machine
    # may wake the worker late, but each read is on a deadline of its own, never two on one.
    slots = [math.floor((t - grid.base) / grid.interval + 1e-6) for t in starts]
    assert all(b > a for a, b in itertools.pairwise(slots)), slots
    # No drift: the slots the reads took, plus the deadlines counted as skipped, match the time that
    # passed, measured here on the loop clock. A loop that slept `interval` after each 4 ms read falls
    # one slot behind every five reads (about 41 reads for 50 deadlines in this second); late
    # wake-ups on a busy machine turn into counted overruns instead and keep the sum.
    passed = round((starts[-1] - starts[0]) / 0.02)
    assert len(starts) - 1 + health["overruns"] in range(passed - 1, passed + 3), (len(starts), health, passed)
    assert passed >= 40  # the run lasted about its second
    assert health["cycles"] + health["overruns"] == grid.slot, (health, grid.slot)


async def test_an_overrun_is_skipped_and_counted_never_queued() -> None:
    driver = ScriptedDriver(lambda g, n: good(), read_time=0.11)
    worker = ConnectionWorker(driver, {"fast": 0.05}, lambda s: None)
    await run_for(worker, 0.8)
    starts = [t for _, t in driver.calls]
    # The grid's deadlines are base + k * 50 ms. Each read is checked against the deadline it started on
    # (the last one at or before its start), not against wall-clock gaps: a loaded machine may wake the
    # worker late, but never before its deadline, so these hold however late the wake-ups are.
    grid = worker.groups[0]
    slots = [math.floor((t - grid.base) / grid.interval + 1e-6) for t in starts]
    for i in range(len(starts) - 1):
        # Never queued, never back to back: the next read waits for the first deadline after this
        # one ended (a worker that caught up on a missed deadline would start at once, before it).
        assert grid.base + slots[i + 1] * grid.interval >= driver.ends[i] - 1e-6, (i, starts, driver.ends)
        # A 110 ms read on a 50 ms grid: at least two deadlines are skipped each time.
        assert slots[i + 1] - slots[i] >= 3, slots
    health = worker.health()["groups"]["fast"]
    assert len(starts) >= 3
    assert health["overruns"] >= 2 * (len(starts) - 1)
    # Skipped and counted: every deadline up to the next one due was read or counted as an overrun.
    assert health["cycles"] + health["overruns"] == grid.slot, (health, grid.slot)


async def test_several_groups_keep_their_own_rates() -> None:
    driver = ScriptedDriver(lambda g, n: good(g))
    worker = ConnectionWorker(driver, {"fast": 0.02, "slow": 0.2}, lambda s: None)
    await run_for(worker, 1.0)
    fast = sum(1 for g, _ in driver.calls if g == "fast")
    slow = sum(1 for g, _ in driver.calls if g == "slow")
    assert 47 <= fast <= 51
    assert 5 <= slow <= 6


async def test_failed_requests_become_bad_samples_and_answers_stay_good() -> None:
    received: list[Sample] = []

    def partial(group: str, n: int) -> Any:
        return PartialRead(good("ok"), [(["dead1", "dead2"], DeviceTimeout("unit 3"))])

    driver = ScriptedDriver(partial)
    worker = ConnectionWorker(driver, {"g": 0.05}, received.extend, group_tags={"g": ["ok", "dead1", "dead2"]})
    await run_for(worker, 0.3)
    by_tag: dict[str, set[int]] = {}
    for sample in received:
        by_tag.setdefault(sample.tag, set()).add(sample.status)
    assert by_tag == {"ok": {GOOD}, "dead1": {BAD_TIMEOUT}, "dead2": {BAD_TIMEOUT}}
    # Some answers every cycle: a dead unit never drops the connection.
    assert driver.connects == 1


async def test_timeouts_in_a_row_reconnect_with_backoff() -> None:
    received: list[Sample] = []
    driver = ScriptedDriver(lambda g, n: DeviceTimeout("no answer"))
    worker = ConnectionWorker(
        driver, {"g": 0.02}, received.extend, group_tags={"g": ["a"]},
        reconnect_after_timeouts=3, backoff=Backoff(initial=0.1, maximum=0.1),
    )
    await run_for(worker, 0.5)
    assert driver.connects >= 2
    assert worker.health()["disconnects"]["timeouts"] >= 1
    assert {s.status for s in received} == {BAD_TIMEOUT}


async def test_out_of_step_reconnects_at_once_and_the_next_cycle_is_good() -> None:
    received: list[Sample] = []

    def once_out_of_step(group: str, n: int) -> Any:
        return ProtocolOutOfStep("tid 7 answered 6") if n == 3 else good("a")

    driver = ScriptedDriver(once_out_of_step)
    worker = ConnectionWorker(driver, {"g": 0.05}, received.extend, group_tags={"g": ["a"]})
    await run_for(worker, 0.4)
    statuses = [s.status for s in received]
    assert statuses[2] == BAD_COMMUNICATION_ERROR
    assert statuses[3] == GOOD
    assert driver.connects == 2
    # The read after the reconnect kept the grid: no cycle lost.
    t2, t3 = driver.calls[2][1], driver.calls[3][1]
    assert 0.03 < t3 - t2 < 0.07


async def test_connection_loss_marks_every_tag_bad_once_then_recovers() -> None:
    received: list[Sample] = []
    state = {"down": True}

    class FlakyConnect(ScriptedDriver):
        async def connect(self) -> None:
            self.connects += 1
            if state["down"]:
                raise ConnectionLost("refused")

    driver = FlakyConnect(lambda g, n: good(g))
    worker = ConnectionWorker(
        driver, {"a": 0.05, "b": 0.05}, received.extend, group_tags={"a": ["a"], "b": ["b"]},
        backoff=Backoff(initial=0.05, maximum=0.05),
    )
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)
    assert driver.connects >= 3
    assert sorted((s.tag, s.status) for s in received) == [("a", BAD_NO_COMMUNICATION), ("b", BAD_NO_COMMUNICATION)]
    state["down"] = False
    await asyncio.sleep(0.2)
    worker.stop()
    await task
    assert received[-1].status == GOOD


async def test_a_failing_sink_does_not_stop_polling() -> None:
    def broken_sink(samples: list[Sample]) -> None:
        raise RuntimeError("queue full")

    driver = ScriptedDriver(lambda g, n: good())
    worker = ConnectionWorker(driver, {"g": 0.02}, broken_sink)
    await run_for(worker, 0.2)
    assert len(driver.calls) >= 8
    assert worker.health()["sink_errors"] == len(driver.calls)
