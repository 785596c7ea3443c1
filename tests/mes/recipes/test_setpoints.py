"""Single setpoint writes through the audited path, to the simulator over Modbus and OPC UA:
read back equal; a dropped write is a mismatch; limits and roles refuse before anything is sent;
every attempt is in the audit log, queryable by tag and user."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from mes.errors import NotFound
from mes.recipes import setpoints
from mes.recipes.setpoints import Origin, write_log, write_setpoint
from tests.mes.recipes.line import FILLER_SP, LABELLER_SP, people, writing_line

HERE = Origin("10.0.0.7", "POST /api/setpoints")


def requests(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM setpoint_requests").fetchone()[0]


async def test_every_attempt_is_checked_written_read_back_and_audited(db_url, tmp_path) -> None:
    staff = people(db_url, "sam", "otto", "mia")
    sam, otto, mia = staff["sam"], staff["otto"], staff["mia"]

    async def write(user, tag, value, origin=HERE):
        return await asyncio.to_thread(write_setpoint, db_url, user, tag, value, origin)

    async with writing_line(db_url, tmp_path / "pki") as line:
        sim = line.sim
        filler_old = sim.point(FILLER_SP).value
        modbus = await write(sam, "filler_speed_setpoint", 480.5)
        assert (modbus.result, modbus.old, modbus.readback) == ("written", filler_old, 480.5), modbus
        assert sim.point(FILLER_SP).value == 480.5
        opcua = await write(sam, "labeller_speed_setpoint", 512)
        assert (opcua.result, opcua.readback) == ("written", 512.0), opcua
        assert sim.point(LABELLER_SP).value == 512.0

        sim.ignore_writes(FILLER_SP)
        dropped = await write(sam, "filler_speed_setpoint", 333.0)
        assert (dropped.result, dropped.readback) == ("mismatch", 480.5), dropped
        sim.clear_faults()

        sent = requests(db_url)
        too_high = await write(sam, "filler_speed_setpoint", 901.0)
        operator = await write(otto, "filler_speed_setpoint", 400.0)
        not_listed = await write(mia, "filler_speed_setpoint", 400.0)  # maintenance may write, not this tag
        assert too_high.result == "refused" and "write limits [0, 900]" in too_high.message
        assert operator.result == "forbidden" and "'operator' may not setpoints.write" in operator.message
        assert not_listed.result == "forbidden" and "supervisor, manager, admin only" in not_listed.message
        assert requests(db_url) == sent and sim.point(FILLER_SP).value == 480.5  # nothing reached the device
        maintenance = await write(mia, "capper_speed_setpoint", 410.0)
        assert maintenance.result == "written"
        with pytest.raises(NotFound, match="filler_state is not a writable tag"):
            await write(sam, "filler_state", 1)

    with psycopg.connect(db_url) as conn:
        filler = write_log(conn, tag="filler_speed_setpoint")
        by_mia = write_log(conn, user="mia")
        everything = write_log(conn)
    assert [(r["actor"], r["value"], r["readback"], r["result"]) for r in reversed(filler)] == [
        ("sam", 480.5, 480.5, "written"), ("sam", 333.0, 480.5, "mismatch"), ("sam", 901.0, None, "refused"),
        ("otto", 400.0, None, "forbidden"), ("mia", 400.0, None, "forbidden")]
    assert filler[-1]["old"] == filler_old and filler[-1]["address"] == "10.0.0.7"
    assert filler[-1]["route"] == "POST /api/setpoints" and filler[-1]["at"] is not None
    assert [(r["tag"], r["result"]) for r in by_mia] == [("capper_speed_setpoint", "written"),
                                                         ("filler_speed_setpoint", "forbidden")]
    assert len(everything) == 8  # the unknown tag's attempt too


async def test_a_request_no_collector_takes_expires_and_is_never_written_later(db_url, monkeypatch) -> None:
    from collectors.config import load_plant
    from mes.production.sync import sync_plant
    from tests.mes.recipes.line import EXAMPLE

    monkeypatch.setattr(setpoints, "REQUEST_SECONDS", 0.3)
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_plant(conn, load_plant(EXAMPLE))
    sam = people(db_url, "sam")["sam"]
    attempt = await asyncio.to_thread(write_setpoint, db_url, sam, "filler_speed_setpoint", 400.0)
    assert attempt.result == "expired" and "nothing was written" in attempt.message
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT state FROM setpoint_requests").fetchall() == [("expired",)]
