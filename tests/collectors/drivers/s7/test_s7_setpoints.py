"""S7 setpoints go through the one audited write path (docs/security.md, "Writes to devices"): the MES
checks and asks through ``setpoint_requests``, the collector's queue writes with the S7 driver, reads
back and answers, and the audit row says what the PLC holds. Against snap7's own server."""

from __future__ import annotations

import asyncio

import psycopg

from collectors.config.models import Plant
from collectors.drivers.s7 import S7Driver
from collectors.setpoint_queue import SetpointQueue, writable_tags
from mes.auth.models import User
from mes.recipes.setpoints import Origin, sync_writable_tags, write_setpoint
from simulator.s7 import S7Face
from tests.collectors.drivers.s7.test_s7 import connection
from tests.conftest import free_port

OVEN = "DB1,REAL8"
SPEED = "DB1,INT2"


def plant(port: int) -> Plant:
    return Plant.model_validate({
        "site": {"name": "s7 setpoints"},
        "connections": [connection(port).model_dump()],
        "tags": [{"name": "oven_setpoint", "connection": "plc", "s7_address": OVEN, "writable": True,
                  "write_limits": [0, 300], "unit": "°C"},
                 {"name": "speed_setpoint", "connection": "plc", "s7_address": SPEED, "writable": True,
                  "write_limits": [0, 1200]},
                 {"name": "oven_temperature", "connection": "plc", "s7_address": "DB1,REAL12"}],
    })  # fmt: skip


async def test_an_s7_setpoint_is_written_read_back_and_audited(db_url: str) -> None:
    face = S7Face(free_port(), {1: 64})
    face.set(OVEN, 150.0)
    face.set(SPEED, 600)
    face.start()
    config = plant(face.port)
    driver = S7Driver(config.connections[0], config.tags)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await driver.connect()
        writable = writable_tags(config.tags, {"plc": driver})
        assert sorted(writable) == ["oven_setpoint", "speed_setpoint"]  # the read-only tag opens no write path
        with psycopg.connect(db_url, autocommit=True) as conn:
            sync_writable_tags(conn, config)
        queue = SetpointQueue(db_url, writable, "s7-test")
        task = asyncio.create_task(queue.run(stop))
        sam = User(1, "sam", "supervisor")
        origin = Origin("10.0.0.7", "test")
        oven = await asyncio.to_thread(write_setpoint, db_url, sam, "oven_setpoint", 182.5, origin)
        speed = await asyncio.to_thread(write_setpoint, db_url, sam, "speed_setpoint", 640, origin)
        too_hot = await asyncio.to_thread(write_setpoint, db_url, sam, "oven_setpoint", 301.0, origin)
    finally:
        stop.set()
        if task is not None:
            await task
        await driver.close()
        face.stop()
    assert (oven.result, oven.old, oven.readback) == ("written", 150.0, 182.5), oven
    assert (speed.result, speed.old, speed.readback) == ("written", 600.0, 640.0), speed
    assert face.get(OVEN) == 182.5 and face.get(SPEED) == 640.0
    assert too_hot.result == "refused" and queue.handled == 2  # refused before anything was sent
    with psycopg.connect(db_url) as conn:
        audited = conn.execute("SELECT actor, object, after->>'result', after->'readback' FROM audit_log "
                               "WHERE action = 'setpoints.write' ORDER BY id").fetchall()  # fmt: skip
    assert audited == [("sam", "tag:oven_setpoint", "written", 182.5), ("sam", "tag:speed_setpoint", "written", 640.0),
                       ("sam", "tag:oven_setpoint", "refused", None)]  # fmt: skip
