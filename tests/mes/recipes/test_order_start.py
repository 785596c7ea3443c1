"""`linebrain run`'s recipe jobs on a running collector: an order that starts gets its recipe written
to the simulated line without anyone typing it; a value then changed at the machine's HMI opens a
variance, which clears when the machine holds the downloaded value again."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi.testclient import TestClient

from collectors.service import CollectorService, ServiceOptions
from mes.alarms.store import active_alarms
from mes.api import create_app
from mes.auth.permissions import ACTIONS
from mes.auth.tokens import token_may
from mes.production.orders import create_order, find_order, transition
from mes.production.sync import sync_plant
from mes.recipes.jobs import jobs, order_start_actor, order_start_job, variance_job
from mes.recipes.recipes import approve_recipe, create_recipe
from mes.recipes.setpoints import WritableTag, may_write
from mes.recipes.variance import open_variances
from simulator import Simulator, SimulatorOptions
from tests.mes.auth.helpers import PASSWORD, bearer
from tests.mes.recipes.line import FILLER_SP, LABELLER_SP, people, plant_for
from tests.mes.recipes.test_recipes import LAGER


def line_page(db_url: str, user: str) -> str:
    """The line page in Chinese, as ``user`` sees it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        headers = bearer(conn, user, ("read",))
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        answer = client.get("/lines/line1?lang=zh_CN", headers=headers)
    assert answer.status_code == 200, answer.text[:500]
    return answer.text


def alarms_now(db_url: str) -> list[dict]:
    with psycopg.connect(db_url) as conn:
        return active_alarms(conn)


async def eventually(check, seconds: float = 15.0):
    for _ in range(int(seconds / 0.1)):
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("not within the time")


async def test_order_start_downloads_and_a_changed_value_is_a_variance(db_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LINEBRAIN_PKI_DIR", str(tmp_path / "pki"))
    staff = people(db_url, "max")
    async with Simulator(SimulatorOptions(scenario="brewery", speed=0)) as sim:
        plant = plant_for(sim)
        line = plant.areas[0].lines[0].model_copy(update={"recipe_download": "order_start"})
        plant = plant.model_copy(update={"areas": [plant.areas[0].model_copy(update={"lines": [line]})]})
        assert len(jobs(plant, db_url)) == 2  # the variance watch and the order-start downloads
        with psycopg.connect(db_url, autocommit=True) as conn:
            sync_plant(conn, plant)
            recipe = create_recipe(conn, "lager", "lager05", "line1", LAGER, "max")
            approve_recipe(conn, recipe["id"], staff["max"], PASSWORD)
            create_order(conn, "W-5", "line1", "lager05", 1000, "sam")
        service = CollectorService(plant, db_url, ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=None,
                                                                 announce=False, rollup_interval=3600))  # fmt: skip
        task = asyncio.create_task(service.run([order_start_job(db_url, ["line1"], 0.2), variance_job(db_url, 0.3)]))
        try:
            await asyncio.wait_for(service.started.wait(), 20)
            assert service.setpoints is not None  # writable tags: the write path is open
            with psycopg.connect(db_url, autocommit=True) as conn:
                transition(conn, find_order(conn, "W-5")["id"], "running", "sam")

            def downloaded():
                with psycopg.connect(db_url) as conn:
                    return conn.execute("SELECT result, requested_by, trigger FROM recipe_downloads "
                                        "WHERE finished_at IS NOT NULL").fetchone()

            assert await eventually(downloaded) == ("complete", "system:order-start", "order_start")
            with psycopg.connect(db_url) as conn:  # who wrote: the system, for the user who started the order
                audited = conn.execute("SELECT actor, after->>'on_behalf_of', after->>'result', after->>'order' "
                                       "FROM audit_log WHERE action = 'setpoints.write' ORDER BY id").fetchall()
            assert audited == [("system:order-start", "sam", "written", "W-5")] * 3
            assert (sim.point(FILLER_SP).value, sim.point(LABELLER_SP).value) == (570.0, 598.5)

            sim.point(FILLER_SP).set(520.0, sim.now)  # someone types another speed at the filler's HMI
            await sim.step()

            def variances():
                with psycopg.connect(db_url) as conn:
                    return open_variances(conn, "line1")

            [event] = await eventually(variances)
            assert (event["tag"], event["expected"], event["actual"], event["order_number"]) == (
                "filler_speed_setpoint", 570.0, 520.0, "W-5")
            assert [(a["rule"], a["tag"], a["active"]) for a in await asyncio.to_thread(alarms_now, db_url)] == [
                ("setpoint_variance", "filler_speed_setpoint", True)]
            page = await asyncio.to_thread(line_page, db_url, "max")
            assert "设定值在设备上被改动" in page and "filler_speed_setpoint" in page and "520" in page
            sim.point(FILLER_SP).set(570.0, sim.now)
            await sim.step()
            assert await eventually(lambda: not variances())
            [alarm] = await asyncio.to_thread(alarms_now, db_url)
            assert (alarm["active"], alarm["state"]) == (False, "returned_unacknowledged")  # back, waiting for an ack
        finally:
            service.stop()
            await asyncio.wait_for(task, 30)


def test_the_order_start_actor_may_download_recipes_and_nothing_else() -> None:
    actor = order_start_actor("sam")
    assert (actor.name, actor.role) == ("system:order-start", "supervisor")  # the least role that may download
    anyone = WritableTag("filler_speed_setpoint")
    assert may_write(actor, anyone, "recipes.download") is None
    assert "scopes do not cover setpoints.write" in (may_write(actor, anyone, "setpoints.write") or "")
    assert not any(token_may(actor, action) for action in ACTIONS if action != "recipes.download")
    admins_only = WritableTag("filler_speed_setpoint", roles=("admin",))
    assert "admin only, not by 'supervisor'" in (may_write(actor, admins_only, "recipes.download") or "")
