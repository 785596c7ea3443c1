"""The collector's end of the setpoint channel: a request in the database is claimed once, written
through the connection's driver, read back, and its outcome filed; an expired one is never written."""

from __future__ import annotations

import asyncio

import psycopg

from collectors.config.models import ModbusConnection, Tag
from collectors.drivers.modbus import ModbusDriver
from collectors.setpoint_queue import SetpointQueue, writable_tags
from simulator import Simulator, SimulatorOptions


def request(db_url: str, tag: str, value: object, expires: str = "10 seconds") -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO setpoint_requests (tag, value, requested_by, expires_at) "
                           "VALUES (%s, %s::jsonb, 'test', now() + %s::interval) RETURNING id",
                           (tag, str(value), expires)).fetchone()  # fmt: skip
        conn.execute("NOTIFY linebrain_setpoints")
    assert row is not None
    return int(row[0])


def outcome(db_url: str, request_id: int) -> tuple:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT state, result, old_value, readback FROM setpoint_requests WHERE id = %s",
                           (request_id,)).fetchone()  # fmt: skip
    assert row is not None
    return tuple(row)


async def test_requests_are_written_once_and_expired_ones_never(db_url) -> None:
    async with Simulator(SimulatorOptions(scenario="brewery", speed=0, opcua_port=None)) as sim:
        plc = ModbusConnection(id="plc", protocol="modbus", host="127.0.0.1", port=sim.modbus_port)
        tags = [Tag(name="speed_sp", connection="plc", unit_id=1, table="holding_register", address=20,
                    data_type="float32", writable=True, write_limits=(0, 900)),
                Tag(name="state", connection="plc", unit_id=1, table="holding_register", address=0,
                    data_type="uint16")]  # fmt: skip
        driver = ModbusDriver(plc, tags)
        await driver.connect()
        writable = writable_tags(tags, {"plc": driver})
        assert list(writable) == ["speed_sp"]
        assert writable_tags(tags[1:], {"plc": driver}) == {}  # nothing writable: no write path at all
        stale = await asyncio.to_thread(request, db_url, "speed_sp", 100.0, "-1 second")
        stop = asyncio.Event()
        queue = SetpointQueue(db_url, writable, "test")
        task = asyncio.create_task(queue.run(stop))
        try:
            fresh = await asyncio.to_thread(request, db_url, "speed_sp", 321.5)
            for _ in range(100):
                if (await asyncio.to_thread(outcome, db_url, fresh))[0] == "done":
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
            await driver.close()
        assert await asyncio.to_thread(outcome, db_url, fresh) == ("done", "written", 570.0, 321.5)
        assert (await asyncio.to_thread(outcome, db_url, stale))[:2] == ("pending", None)
        assert sim.point("Packaging.Line1.Filler.SpeedSetpoint").value == 321.5 and queue.handled == 1
