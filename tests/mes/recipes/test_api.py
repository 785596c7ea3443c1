"""The API face of setpoints and recipes: the same audited path, answers that say what happened."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi.testclient import TestClient

from mes.api import create_app
from tests.mes.auth.helpers import PASSWORD, bearer, form_token, sign_in
from tests.mes.recipes.line import FILLER_SP, people, writing_line


def download_from_the_page(db_url: str, order_id: int) -> str:
    """Sign in as sam, open the order's recipe page (checked, nothing written), press the button."""
    with TestClient(create_app(db_url), base_url="http://localhost") as browser:
        assert sign_in(browser, "sam").status_code == 303
        planned = browser.get(f"/recipes/orders/{order_id}?lang=zh_CN")
        assert planned.status_code == 200 and "可下载" in planned.text and 'id="download"' in planned.text
        done = browser.post(f"/recipes/orders/{order_id}", data={"csrf_token": form_token(planned.text)})
        assert done.status_code == 200, done.text[:300]
        return done.text


async def test_setpoint_and_recipe_routes_write_through_the_audited_path(db_url, tmp_path) -> None:
    people(db_url, "sam", "otto", "quinn")
    async with writing_line(db_url, tmp_path / "pki") as line:
        with psycopg.connect(db_url, autocommit=True) as conn:
            sam, otto, quinn = (bearer(conn, name) for name in ("sam", "otto", "quinn"))
        client = TestClient(create_app(db_url), base_url="http://localhost")
        client.__enter__()
        try:
            def post(headers: dict, path: str, body: dict):
                return client.post(path, json=body, headers=headers)

            written = await asyncio.to_thread(post, sam, "/api/setpoints", {"tag": "filler_speed_setpoint",
                                                                            "value": 555})  # fmt: skip
            assert written.status_code == 200 and written.json()["readback"] == 555.0
            assert line.sim.point(FILLER_SP).value == 555.0
            forbidden = await asyncio.to_thread(post, otto, "/api/setpoints", {"tag": "filler_speed_setpoint",
                                                                               "value": 500})  # fmt: skip
            assert forbidden.status_code == 403 and forbidden.json()["detail"]["result"] == "forbidden"
            refused = await asyncio.to_thread(post, sam, "/api/setpoints", {"tag": "filler_speed_setpoint",
                                                                            "value": -1})  # fmt: skip
            assert refused.status_code == 422 and "[0, 900]" in refused.json()["detail"]["message"]
            line.sim.ignore_writes(FILLER_SP)  # the device acknowledges and keeps 555: a conflict, not a bad gateway
            kept = await asyncio.to_thread(post, sam, "/api/setpoints", {"tag": "filler_speed_setpoint", "value": 560})
            line.sim.clear_faults()
            assert kept.status_code == 409, kept.text
            detail = kept.json()["detail"]
            assert (detail["result"], detail["tag"], detail["value"], detail["readback"]) == (
                "mismatch", "filler_speed_setpoint", 560, 555.0)
            assert "filler_speed_setpoint" in detail["message"] and "560" in detail["message"] \
                and "555" in detail["message"], detail["message"]
            with psycopg.connect(db_url) as conn:
                audited = conn.execute("SELECT after->>'result', after->'readback' FROM audit_log "
                                       "WHERE id = %s", (detail["audit_id"],)).fetchone()  # fmt: skip
            assert audited == ("mismatch", 555.0)

            recipe = {"name": "pils", "product_id": "pils033", "equipment_id": "line1.filler",
                      "parameters": [{"tag": "filler_speed_setpoint", "value": 684, "low": 650, "high": 720}]}
            made = await asyncio.to_thread(post, sam, "/api/recipes", recipe)
            assert made.status_code == 201, made.text
            rid = made.json()["id"]
            unsigned = await asyncio.to_thread(post, quinn, f"/api/recipes/{rid}/approve", {"password": "nope"})
            assert unsigned.status_code == 403
            signed = await asyncio.to_thread(post, quinn, f"/api/recipes/{rid}/approve", {"password": PASSWORD})
            assert signed.status_code == 200 and signed.json()["state"] == "approved"
            order = await asyncio.to_thread(post, sam, "/api/orders", {"number": "P-1", "line_id": "line1",
                                                                       "product_id": "pils033",
                                                                       "planned_quantity": 100})  # fmt: skip
            assert order.status_code == 201
            done = await asyncio.to_thread(post, sam, "/api/recipes/download", {"order": "P-1"})
            assert done.status_code == 200 and done.json()["result"] == "complete", done.text
            assert line.sim.point(FILLER_SP).value == 684.0
            log = await asyncio.to_thread(client.get, "/api/setpoints/log", headers=sam)
            assert log.status_code == 403  # the write log is the audit log: audit.read
            line.sim.point(FILLER_SP).set(600.0, line.sim.now)
            page = await asyncio.to_thread(download_from_the_page, db_url, order.json()["id"])
            assert "已完成" in page and "filler_speed_setpoint" in page
            assert line.sim.point(FILLER_SP).value == 684.0
        finally:
            client.__exit__(None, None, None)
