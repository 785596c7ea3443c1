"""A connection that cannot connect counts the bad samples it stores, so status does not say 0 bad."""

from __future__ import annotations

import asyncio

from collectors.drivers.modbus import modbus_worker
from collectors.samples import Sample, is_bad
from tests.collectors.store.helpers import scale_plant, wait_until
from tests.conftest import free_port


async def test_a_connection_that_never_comes_up_counts_its_bad_samples() -> None:
    plant = scale_plant(free_port(), 3)  # nothing listens there
    connection = plant.connections[0]
    stored: list[Sample] = []
    worker = modbus_worker(connection, plant.tags_of(connection.id), stored.extend)
    task = asyncio.create_task(worker.run())
    await wait_until(lambda: len(stored) >= 3, 10, "the bad samples of the refused connection")
    await asyncio.sleep(0.5)  # a retry or two more: still reported once
    worker.stop()
    await asyncio.wait_for(task, 10)
    health = worker.health()
    assert not health["connected"]
    assert len(stored) == 3 and all(is_bad(sample.status) for sample in stored)
    group = health["groups"]["default"]
    assert group["bad_samples"] == 3 and group["samples"] == 3
