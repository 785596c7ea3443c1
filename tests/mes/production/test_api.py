"""The REST API: routes call the domain, writes record the user, bad input is a 422 naming
the field, and the OpenAPI schema holds up under schemathesis without server errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from mes.api import create_app
from mes.production import derive
from tests.fuzz import operations_without_server_errors
from tests.mes.auth.helpers import add_user, sign_in, user_with_token
from tests.mes.production.scenario import FAULT, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")


@pytest.fixture
def client(db: psycopg.Connection, db_url: str) -> Iterator[TestClient]:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    add_user(db, "ann", "supervisor")
    with TestClient(create_app(db_url), base_url="http://localhost") as test_client:
        assert sign_in(test_client, "ann").status_code == 303
        yield test_client


def test_order_round_trip_records_the_user(client: TestClient, db: psycopg.Connection) -> None:
    body = {"number": "W-1", "line_id": "line1", "product_id": "lager", "planned_quantity": 500}
    created = client.post("/api/orders", json=body)
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    started = client.post(f"/api/orders/{order_id}/start", json={"at": T0.isoformat()})
    assert started.status_code == 200 and started.json()["status"] == "running"
    other = client.post("/api/orders", json={**body, "number": "W-2"}).json()
    clash = client.post(f"/api/orders/{other['id']}/start")
    assert clash.status_code == 409 and "W-1" in clash.text
    detail = client.get(f"/api/orders/{order_id}").json()
    assert [(t["to_status"], t["by_user"]) for t in detail["transitions"]] == [("planned", "ann"), ("running", "ann")]
    assert client.post("/api/orders", json=body).status_code == 409  # the number exists


def test_bad_input_is_a_422_naming_the_field(client: TestClient) -> None:
    missing = client.post("/api/orders", json={"number": "W-1", "line_id": "line1", "product_id": "lager"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "planned_quantity"]
    unknown = client.post("/api/orders", json={"number": "W-1", "line_id": "line1", "product_id": "nope",
                                               "planned_quantity": 5})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "product_id"]
    naive = client.get("/api/lines/line1/kpi", params={"from": "2026-03-04T07:00:00", "to": T0.isoformat()})
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["query", "from"]
    backwards = client.get("/api/lines/line1/kpi", params={"from": T0.isoformat(),
                                                          "to": (T0 - timedelta(hours=1)).isoformat()})
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "to"]
    assert client.get("/api/lines/nope").status_code == 404


def test_downtime_is_reclassified_and_kpis_show_their_elements(client: TestClient, db: psycopg.Connection) -> None:
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=10), RUNNING),
                          (T0 + timedelta(minutes=10), T0 + timedelta(minutes=20), FAULT),
                          (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30), RUNNING)])
    writer.flush()
    derive.run_once(db, plant(), now=T0 + timedelta(minutes=30))
    window = {"from": T0.isoformat(), "to": (T0 + timedelta(minutes=30)).isoformat()}
    events = client.get("/api/lines/line1/downtime", params=window).json()
    assert len(events) == 1
    assigned = client.post(f"/api/downtime/{events[0]['id']}/reason", json={"reason_code": "material", "why": "x"})
    assert assigned.status_code == 200 and assigned.json()["assigned_by"] == "ann"
    row = client.get("/api/lines/line1/kpi", params=window).json()[0]
    assert {"pot", "pbt", "apt", "adet", "pq", "gq", "availability", "oee", "minor_stop_loss"} <= set(row)
    # The assigned reason's time element (ADET) wins over "no order" (ADOT).
    assert (row["apt"], row["adet"], row["adot"]) == (pytest.approx(1200), pytest.approx(600), 0)
    assert (row["plausible"], row["implausible_reasons"]) == (True, [])  # every API row says if it is plausible
    steps = client.get("/api/lines/line1/waterfall", params=window).json()
    assert all(step["plausible"] is True for step in steps)
    pareto = client.get("/api/lines/line1/pareto", params=window).json()
    assert pareto[0]["seconds"] > 0
    assert client.get("/api/lines/line1").json()["state"]["state"] == "running"
    assert client.get("/docs").status_code == 200


def test_openapi_schema_holds_without_server_errors(client: TestClient, db: psycopg.Connection) -> None:
    """Every production, order and downtime operation, fed schema-generated input against a
    real database (in process, through the ASGI app) by a signed-in admin, never answers with a 5xx."""
    checked = operations_without_server_errors(client.app, ("/api/lines", "/api/orders", "/api/downtime",
                                                            "/api/equipment", "/api/products"),
                                               user_with_token(db, "root", "admin"))
    assert len(checked) >= 15, checked


def test_plans_and_calendar_changes_are_recorded(client: TestClient) -> None:
    body = {"number": "W-5", "line_id": "line1", "product_id": "lager", "planned_quantity": 500}
    order = client.post("/api/orders", json=body).json()
    changed = client.patch(f"/api/orders/{order['id']}", json={"planned_quantity": 800})
    assert changed.status_code == 200 and changed.json()["planned_quantity"] == 800
    log = client.get(f"/api/orders/{order['id']}").json()["transitions"]
    assert log[-1]["note"] == "planned_quantity: 500.0 -> 800.0" and log[-1]["by_user"] == "ann"
    extra = client.post("/api/lines/line1/extra-shifts", json={
        "name": "overtime", "start": local("2026-03-07", "22:00").isoformat(),
        "end": local("2026-03-07", "23:30").isoformat()})
    assert extra.status_code == 201, extra.text
    shifts = client.get("/api/lines/line1/shifts", params={"from": local("2026-03-07", "00:00").isoformat(),
                                                            "to": local("2026-03-08", "00:00").isoformat()}).json()
    assert [s["name"] for s in shifts] == ["early", "late", "overtime"]
    assert client.post("/api/holidays", json={"day": "2026-03-09", "name": "Plant holiday"}).status_code == 201
