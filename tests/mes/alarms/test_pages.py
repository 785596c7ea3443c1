"""The alarms page: a supervisor signed in through the form acknowledges an alarm and raises an andon call
(both forms carry the session's CSRF token; a form without it is refused), and the andon board shows the call."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.engine import AlarmEngine
from mes.api import create_app
from mes.production.sync import sync_plant
from tests.mes.alarms.test_api import plant
from tests.mes.auth.helpers import add_user, form_token, sign_in


def test_acknowledge_and_call_for_help_from_the_page(db: psycopg.Connection, db_url: str) -> None:
    config = plant()
    sync_plant(db, config, datetime.now(UTC))
    engine = AlarmEngine(config)
    ids = store.sync_points(db, engine.conditions)
    with db.transaction():
        for change in engine.evaluate([Sample("oil", datetime.now(UTC), 95.0)]):
            store.record_change(db, ids[change.condition.key], change)
    add_user(db, "sam", "supervisor")
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        assert sign_in(client, "sam").status_code == 303
        page = client.get("/alarms", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "oil_hot" in page.text and "Unacknowledged" in page.text
        [alarm] = store.active_alarms(db)
        refused = client.post(f"/alarms/{alarm['id']}/acknowledge", data={}, follow_redirects=False)
        assert refused.status_code == 403
        token = form_token(page.text)
        done = client.post(f"/alarms/{alarm['id']}/acknowledge", data={"csrf_token": token}, follow_redirects=False)
        assert done.status_code == 303 and store.occurrence(db, alarm["id"])["acknowledged_by"] == "sam"
        called = client.post("/andon/calls", data={"csrf_token": token, "line_id": "line1", "kind": "material",
                                                   "note": "labels"}, follow_redirects=False)  # fmt: skip
        assert called.status_code == 303
        chinese = client.get("/alarms?lang=zh_CN", headers={"Accept": "text/html"}).text
        assert "已确认" in chinese and "安灯呼叫" in chinese and "物料" in chinese
        board = client.get("/andon?lang=en", headers={"Accept": "text/html"}).text
        assert "Andon" in board and "Material" in board
    audit = db.execute("SELECT actor, action FROM audit_log WHERE object LIKE 'alarm:%%' OR object LIKE 'andon:%%' "
                       "ORDER BY id").fetchall()  # fmt: skip
    assert audit == [("sam", "alarms.acknowledge"), ("sam", "andon.call")]
