"""Recipes from draft to download: versions, approval by a second person with the password
re-entered, every value checked before anything is written, a partial failure reported per
parameter with the values already written left in place, every attempt audited by order."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from mes.auth.models import SignInRefused
from mes.errors import Conflict, InvalidInput
from mes.production.orders import create_order
from mes.recipes.download import download
from mes.recipes.recipes import NotPermitted, Parameter, approve_recipe, create_recipe, get_recipe
from mes.recipes.setpoints import write_log
from tests.mes.auth.helpers import PASSWORD
from tests.mes.recipes.line import CAPPER_SP, FILLER_SP, LABELLER_SP, people, writing_line

LAGER = [Parameter("filler_speed_setpoint", 570.0, 550.0, 600.0),
         Parameter("capper_speed_setpoint", 575.0, 560.0, 620.0),
         Parameter("labeller_speed_setpoint", 598.5, 570.0, 630.0)]  # fmt: skip


def requests(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM setpoint_requests").fetchone()[0]


async def test_recipe_life_and_downloads_to_the_line(db_url, tmp_path) -> None:
    staff = people(db_url, "sam", "otto", "quinn", "max")
    sam, otto, quinn, boss = staff["sam"], staff["otto"], staff["quinn"], staff["max"]
    async with writing_line(db_url, tmp_path / "pki") as line:
        sim = line.sim
        with psycopg.connect(db_url, autocommit=True) as conn:
            with pytest.raises(InvalidInput) as bad:
                create_recipe(conn, "lager", "lager05", "line1", [Parameter("filler_speed_setpoint", 950.0)], "sam")
            assert bad.value.field == "parameters[0].value" and "[0, 900]" in str(bad.value)
            with pytest.raises(InvalidInput, match="not a writable tag"):
                create_recipe(conn, "lager", "lager05", "line1", [Parameter("filler_state", 1.0)], "sam")
            first = create_recipe(conn, "lager", "lager05", "line1", LAGER, "max", second_approval=True)
            with pytest.raises(Conflict, match="needs a second person"):
                approve_recipe(conn, first["id"], boss, PASSWORD)
            with pytest.raises(SignInRefused):
                approve_recipe(conn, first["id"], quinn, "not the password")
            with pytest.raises(NotPermitted):
                approve_recipe(conn, first["id"], sam, PASSWORD)  # supervisors write recipes, not approve
            assert approve_recipe(conn, first["id"], quinn, PASSWORD)["approved_by"] == "quinn"
            second = create_recipe(conn, "lager", "lager05", "line1", LAGER, "max")
            assert second["version"] == 2
            approve_recipe(conn, second["id"], boss, PASSWORD)  # no second person asked for: the author may
            assert get_recipe(conn, first["id"])["state"] == "obsolete"
            create_order(conn, "W-1", "line1", "lager05", 1000, "sam")
            signature = conn.execute("SELECT after->'signature'->>'signed_by', after->'signature'->>"
                                     "'password_reentered' FROM audit_log WHERE action = 'recipes.approve' "
                                     "AND after->>'state' = 'approved' ORDER BY id").fetchall()  # fmt: skip
        assert signature == [("quinn", "true"), ("max", "true")]

        before = {name: sim.point(name).value for name in (FILLER_SP, CAPPER_SP, LABELLER_SP)}
        sent = requests(db_url)
        dry = await asyncio.to_thread(download, db_url, sam, "W-1", dry_run=True)
        assert dry.result == "ready" and [p.result for p in dry.parameters] == ["planned"] * 3
        by_operator = await asyncio.to_thread(download, db_url, otto, "W-1")
        assert by_operator.result == "refused" and {p.result for p in by_operator.parameters} == {"forbidden"}
        with psycopg.connect(db_url, autocommit=True) as conn:  # the config tightened the capper since approval
            conn.execute("UPDATE setpoint_tags SET high = 570 WHERE tag = 'capper_speed_setpoint'")
        tightened = await asyncio.to_thread(download, db_url, sam, "W-1")
        assert tightened.result == "refused"
        assert [p.result for p in tightened.parameters] == ["not_attempted", "refused", "not_attempted"]
        assert "outside the write limits [0, 570]" in tightened.parameters[1].problem
        assert requests(db_url) == sent  # nothing was asked of any device ...
        assert {name: sim.point(name).value for name in before} == before  # ... and nothing changed
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE setpoint_tags SET high = 930 WHERE tag = 'capper_speed_setpoint'")

        sim.ignore_writes(CAPPER_SP)
        partial = await asyncio.to_thread(download, db_url, sam, "W-1")
        assert partial.result == "partial"
        assert [p.result for p in partial.parameters] == ["written", "mismatch", "not_attempted"]
        assert sim.point(FILLER_SP).value == 570.0  # written and left in place (the documented rule)
        assert sim.point(LABELLER_SP).value == before[LABELLER_SP]
        sim.clear_faults()

        complete = await asyncio.to_thread(download, db_url, sam, "W-1")
        assert complete.result == "complete"
        assert [(p.tag, p.readback) for p in complete.parameters] == [(p.tag, p.value) for p in LAGER]
        assert [sim.point(name).value for name in (FILLER_SP, CAPPER_SP, LABELLER_SP)] == [570.0, 575.0, 598.5]

    with psycopg.connect(db_url) as conn:
        log = write_log(conn, order="W-1")
        stored = conn.execute("SELECT result FROM recipe_downloads ORDER BY id").fetchall()
    assert [(r["actor"], r["tag"], r["result"]) for r in reversed(log)] == [
        ("otto", "filler_speed_setpoint", "forbidden"), ("otto", "capper_speed_setpoint", "forbidden"),
        ("otto", "labeller_speed_setpoint", "forbidden"), ("sam", "capper_speed_setpoint", "refused"),
        ("sam", "filler_speed_setpoint", "written"), ("sam", "capper_speed_setpoint", "mismatch"),
        ("sam", "filler_speed_setpoint", "written"), ("sam", "capper_speed_setpoint", "written"),
        ("sam", "labeller_speed_setpoint", "written")]
    assert all(r["recipe"] == second["id"] for r in log)
    assert stored == [("refused",), ("refused",), ("partial",), ("complete",)]
