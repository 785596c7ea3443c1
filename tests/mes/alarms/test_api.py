"""The alarm, andon and maintenance API: roles from the permission table, every write audited in its own
transaction, bad input a 422 naming the field; an andon call from the page and one from a PLC button."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from collectors.config.models import Plant
from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.engine import AlarmEngine
from mes.api import create_app
from mes.production.sync import sync_plant
from tests.mes.auth.helpers import user_with_token


def plant() -> Plant:
    return Plant.model_validate({
        "site": {"name": "API"},
        "areas": [{"id": "press", "lines": [{"id": "line1"}]}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 502}],
        "tags": [{"name": "oil", "connection": "plc", "table": "holding_register", "address": 0,
                  "data_type": "float32"},
                 {"name": "call_button", "connection": "plc", "table": "coil", "address": 0, "data_type": "bool"}],
        "alarms": {"rules": [{"name": "oil_hot", "tag": "oil", "kind": "high", "limit": 80, "area": "press"}],
                   "andon": [{"line": "line1", "tag": "call_button", "kind": "material"}]},
    })  # fmt: skip


@pytest.fixture
def setup(db: psycopg.Connection, db_url: str) -> Iterator[tuple[TestClient, dict, AlarmEngine, dict]]:
    config = plant()
    sync_plant(db, config, datetime.now(UTC))
    engine = AlarmEngine(config)
    ids = store.sync_points(db, engine.conditions)
    tokens = {role: user_with_token(db, role, role) for role in ("operator", "supervisor", "maintenance")}
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        yield client, tokens, engine, ids


def reading(db: psycopg.Connection, engine: AlarmEngine, ids: dict, tag: str, value: float) -> None:
    with db.transaction():
        for change in engine.evaluate([Sample(tag, datetime.now(UTC), value)]):
            store.record_change(db, ids[change.condition.key], change)


def audit(db: psycopg.Connection, obj: str) -> list[tuple[str, str]]:
    return db.execute("SELECT actor, action FROM audit_log WHERE object = %s ORDER BY id", (obj,)).fetchall()


def test_acknowledge_shelve_and_close_by_role_each_audited(setup, db: psycopg.Connection) -> None:
    client, tokens, engine, ids = setup
    reading(db, engine, ids, "oil", 90.0)
    [alarm] = client.get("/api/alarms", headers=tokens["operator"]).json()
    assert alarm["state"] == "unacknowledged" and alarm["rule"] == "oil_hot"
    acked = client.post(f"/api/alarms/{alarm['id']}/acknowledge", json={"comment": "checking"},
                        headers=tokens["operator"])  # fmt: skip
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    assert audit(db, f"alarm:{alarm['id']}") == [("operator", "alarms.acknowledge")]
    assert client.post(f"/api/alarms/{alarm['id']}/acknowledge", headers=tokens["operator"]).status_code == 409
    point = alarm["point_id"]
    assert client.post(f"/api/alarms/points/{point}/shelve", json={"minutes": 30, "comment": "x"},
                       headers=tokens["operator"]).status_code == 403  # fmt: skip
    missing = client.post(f"/api/alarms/points/{point}/shelve", json={"minutes": 30}, headers=tokens["supervisor"])
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "comment"]
    shelved = client.post(f"/api/alarms/points/{point}/shelve", json={"minutes": 30, "comment": "valve swap"},
                          headers=tokens["supervisor"])  # fmt: skip
    assert shelved.status_code == 200 and shelved.json()["mode"] == "shelved"
    assert client.get(f"/api/alarms/{alarm['id']}", headers=tokens["operator"]).json()["state"] == "shelved"
    client.post(f"/api/alarms/points/{point}/unshelve", headers=tokens["supervisor"])
    shown = client.get(f"/api/alarms/{alarm['id']}", headers=tokens["operator"]).json()
    assert shown["state"] == "unacknowledged", "still active when unshelved: shown again, to be acknowledged"
    client.post(f"/api/alarms/{alarm['id']}/acknowledge", headers=tokens["operator"])
    reading(db, engine, ids, "oil", 50.0)
    early = client.post(f"/api/alarms/{alarm['id']}/close", json={"cause": "fouled cooler"},
                        headers=tokens["supervisor"])  # fmt: skip
    assert early.status_code == 422 and early.json()["detail"][0]["loc"] == ["body", "action"]
    closed = client.post(f"/api/alarms/{alarm['id']}/close", json={"cause": "fouled cooler", "action": "cleaned"},
                         headers=tokens["supervisor"])  # fmt: skip
    assert closed.status_code == 200 and closed.json()["cause"] == "fouled cooler"
    detail = client.get(f"/api/alarms/{alarm['id']}", headers=tokens["operator"]).json()
    assert [e["transition"] for e in detail["events"]] == ["raised", "acknowledged", "shelved", "shelved_ended",
                                                           "acknowledged", "cleared", "closed"]  # fmt: skip
    assert client.get("/api/alarms/kpi", headers=tokens["operator"]).json()[-1]["annunciations"] == 1


def test_andon_calls_from_the_page_and_from_a_plc_button(setup, db: psycopg.Connection) -> None:
    client, tokens, engine, ids = setup
    made = client.post("/api/andon/calls", json={"line_id": "line1", "kind": "quality", "note": "label smudged"},
                       headers=tokens["operator"])  # fmt: skip
    assert made.status_code == 201 and made.json()["source"] == "page" and made.json()["role"] == "quality"
    assert client.post("/api/andon/calls", json={"line_id": "line1", "kind": "custom"},
                       headers=tokens["operator"]).json()["detail"][0]["loc"] == ["body", "label"]  # fmt: skip
    assert client.post("/api/andon/calls", json={"line_id": "nope", "kind": "quality"},
                       headers=tokens["operator"]).status_code == 404  # fmt: skip
    reading(db, engine, ids, "call_button", 1.0)  # the PLC button pressed
    reading(db, engine, ids, "call_button", 0.0)
    reading(db, engine, ids, "call_button", 1.0)  # pressed again while open: the same call
    calls = client.get("/api/andon/calls", headers=tokens["operator"]).json()
    assert [(c["kind"], c["source"], c["raised_by"]) for c in calls] == [("quality", "page", "operator"),
                                                                          ("material", "plc", "system")]
    call_id = calls[0]["id"]
    assert client.post(f"/api/andon/calls/{call_id}/acknowledge", headers=tokens["supervisor"]).status_code == 200
    resolved = client.post(f"/api/andon/calls/{call_id}/resolve", json={"resolution": "reprinted"},
                           headers=tokens["supervisor"])  # fmt: skip
    assert resolved.status_code == 200
    done = client.get("/api/andon/calls", params={"open_only": False}, headers=tokens["operator"]).json()
    quality = next(c for c in done if c["id"] == call_id)
    assert 0 <= quality["seconds_to_acknowledge"] <= quality["seconds_to_resolve"] < 60
    assert audit(db, f"andon:{call_id}") == [("operator", "andon.call"), ("supervisor", "andon.call"),
                                             ("supervisor", "andon.call")]  # fmt: skip


def test_maintenance_orders_need_the_maintenance_action(setup, db: psycopg.Connection) -> None:
    client, tokens, _engine, _ids = setup
    body = {"asset": "m04", "kind": "breakdown", "reason": "bearing noise"}
    assert client.post("/api/maintenance/orders", json=body, headers=tokens["operator"]).status_code == 403
    order = client.post("/api/maintenance/orders", json=body, headers=tokens["maintenance"]).json()
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    closed = client.post(f"/api/maintenance/orders/{order['id']}/close",
                         json={"repair": "bearing replaced", "started_at": started, "failure": True},
                         headers=tokens["maintenance"])  # fmt: skip
    assert closed.status_code == 200 and closed.json()["failure"] is True
    figures = client.get("/api/maintenance/reliability", params={"asset": "m04"}, headers=tokens["operator"]).json()
    assert figures["failures"] == 1 and figures["mttr_hours"] == pytest.approx(2.0, abs=0.01)
    assert audit(db, f"maintenance_order:{order['id']}") == [("maintenance", "maintenance.orders")] * 2
