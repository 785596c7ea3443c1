"""The quality API: routes call the domain, errors come back as 422/404/409 with a clear detail."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from mes.api import create_app
from tests.fuzz import operations_without_server_errors
from tests.mes.auth.helpers import add_user, bearer
from tests.mes.quality.datasets import PISTON_RINGS
from tests.mes.quality.helpers import at, count, make_line, make_order


@pytest.fixture
def client(db: psycopg.Connection, db_url: str) -> Iterator[TestClient]:
    make_line(db)
    add_user(db, "qa-lead", "quality")
    with TestClient(create_app(db_url), base_url="http://localhost", headers=bearer(db, "qa-lead")) as test_client:
        yield test_client


def test_spec_inspection_nonconformance_round_trip(client: TestClient, db: psycopg.Connection) -> None:
    order = make_order(db, "WO-9", at(0), at(60))
    count(db, "L1", at(30), good=50)  # the lot's units were counted: scrapping one leaves 49 good
    spec = client.post("/api/quality/specs", json={"product_id": "P1", "characteristic": "diameter", "unit": "mm",
                                                   "lsl": 73.95, "usl": 74.05})
    assert spec.status_code == 201, spec.text
    lot = client.post("/api/quality/lots", json={"code": "LOT-9", "work_order_id": order, "quantity": 50,
                                                 "started_at": at(0).isoformat(), "ended_at": at(60).isoformat()})
    assert lot.status_code == 201, lot.text
    record = client.post("/api/quality/inspections", json={
        "spec_id": spec.json()["id"], "lot_code": "LOT-9", "inspector": "ana", "time": at(30).isoformat(),
        "measurements": [74.0, 74.07, 74.01],
    })  # fmt: skip
    assert record.status_code == 201, record.text
    nc_id = record.json()["nonconformance_id"]
    nc = client.get(f"/api/quality/nonconformances/{nc_id}").json()
    assert (nc["work_order_id"], nc["lot_code"], nc["quantity"]) == (order, "LOT-9", 1)
    assert nc["reported_by"] == "ana"  # given in the record; the signed-in user otherwise
    assert client.post(f"/api/quality/nonconformances/{nc_id}/close", json={}).status_code == 409
    add_user(db, "op", "operator")
    operator = client.post(f"/api/quality/nonconformances/{nc_id}/dispositions",
                           json={"disposition": "scrap", "quantity": 1}, headers=bearer(db, "op"))
    assert operator.status_code == 403  # operators record inspections; quality decides
    done = client.post(f"/api/quality/nonconformances/{nc_id}/dispositions",
                       json={"disposition": "scrap", "quantity": 1, "approved_by": "someone else"})
    assert done.status_code == 200 and done.json()["status"] == "dispositioned"
    assert done.json()["dispositions"][0]["approved_by"] == "qa-lead"  # the signed-in user approves
    closed = client.post(f"/api/quality/nonconformances/{nc_id}/close", json={"note": "sorted out"}).json()
    assert (closed["status"], closed["closed_by"]) == ("closed", "qa-lead")
    trace = client.get("/api/quality/lots/LOT-9/trace", params={"direction": "backward"}).json()
    assert [lot["code"] for lot in trace["lots"]] == ["LOT-9"]
    kinds = [e["kind"] for e in client.get("/api/quality/events").json()]
    assert kinds == ["nonconformance"]


def test_a_huge_measurement_is_a_422_naming_the_field_not_a_500(client: TestClient) -> None:
    """Issue 26: the fuzz test's example overflowed fsum inside the statistics and answered 500."""
    body = {"estimator": None, "lsl": None, "subgroups": None, "usl": 0.0, "values": [0.0, 8.98846567431158e+307, 0.0]}
    response = client.post("/api/quality/capability", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "values", 1]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/quality/capability", {"lsl": -2e12, "values": [1, 2]}, "lsl"),
    ("/api/quality/capability", {"usl": 9, "subgroups": [[1, 2], [3, -1e13]]}, "subgroups"),
    ("/api/quality/specs", {"product_id": "P1", "characteristic": "x", "usl": 1e300}, "usl"),
    ("/api/quality/specs", {"product_id": "P1", "characteristic": "x", "min_duration_s": 1e300}, "min_duration_s"),
    ("/api/quality/inspections", {"spec_id": 1, "measurements": [1, float("inf")]}, "measurements"),
    ("/api/quality/inspections", {"spec_id": 2**40, "measurements": [1]}, "spec_id"),
    ("/api/quality/inspections", {"spec_id": 1, "nonconforming": 2**40}, "nonconforming"),
    ("/api/quality/nonconformances", {"description": "dent", "quantity": 1e300}, "quantity"),
    ("/api/quality/lots", {"code": "L", "quantity": float("nan")}, "quantity"),
    ("/api/quality/plans", {"name": "p", "spec_id": 1, "trigger": "every_minutes", "interval_value": 1e300},
     "interval_value"),
    ("/api/quality/spc/charts", {"name": "c", "chart_type": "imr", "subgroup_seconds": 1e300}, "subgroup_seconds"),
])  # fmt: skip
def test_numbers_beyond_their_bounds_are_a_422_naming_the_field(client: TestClient, path: str, body: dict,
                                                                field: str) -> None:
    raw = json.dumps(body)  # Python writes NaN and Infinity, as some clients do
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}, response.text


def test_bad_input_gets_422_404_with_the_reason(client: TestClient) -> None:
    inverted = client.post("/api/quality/specs", json={"product_id": "P1", "characteristic": "x", "lsl": 5, "usl": 1})
    assert inverted.status_code == 422 and "below usl" in inverted.text
    unknown_product = client.post("/api/quality/specs", json={"product_id": "NOPE", "characteristic": "x"})
    assert unknown_product.status_code == 422 and "NOPE" in unknown_product.text
    assert client.get("/api/quality/nonconformances/999").status_code == 404
    assert client.get("/api/quality/lots/NOPE/trace").status_code == 404
    bad_direction = client.get("/api/quality/lots/NOPE/trace", params={"direction": "sideways"})
    assert bad_direction.status_code == 422
    no_limits = client.post("/api/quality/capability", json={"values": [1, 2, 3]})
    assert no_limits.status_code == 422 and "specification limit" in no_limits.text


def test_spc_chart_through_the_api(client: TestClient) -> None:
    spec = client.post("/api/quality/specs", json={"product_id": "P1", "characteristic": "ring",
                                                   "lsl": 73.95, "usl": 74.05}).json()
    for i, group in enumerate(PISTON_RINGS):
        response = client.post("/api/quality/inspections", json={"spec_id": spec["id"], "measurements": group,
                                                                  "time": at(i).isoformat()})
        assert response.status_code == 201
    chart = client.post("/api/quality/spc/charts", json={"name": "rings", "chart_type": "xbar_r",
                                                         "spec_id": spec["id"], "subgroup_size": 5}).json()
    limits = client.post(f"/api/quality/spc/charts/{chart['id']}/phase-one", json={"end": at(25).isoformat()})
    assert limits.status_code == 200, limits.text
    frozen = client.post(f"/api/quality/spc/charts/{chart['id']}/freeze", json={})
    assert frozen.status_code == 200 and frozen.json()["frozen_by"] == "qa-lead"
    judged = client.post(f"/api/quality/spc/charts/{chart['id']}/evaluate").json()
    assert {v["rule"] for v in judged["violations"]} >= {"nelson1"}
    capability = client.get(f"/api/quality/specs/{spec['id']}/capability").json()
    assert capability["cp"] > 1 and capability["estimator"].startswith("R̄/d2 (n=5")


def test_quality_openapi_holds_without_server_errors(db: psycopg.Connection, db_url: str) -> None:
    """Every /api/quality operation of the real app, fed schema-generated input against a real
    database, never answers with a 5xx (LINEBRAIN_SCHEMA_EXAMPLES=200 for the deep run)."""
    make_line(db)
    make_order(db, "WO-1", at(0), at(60))
    add_user(db, "qa", "admin")
    with TestClient(create_app(db_url), base_url="http://localhost") as app_client:
        checked = operations_without_server_errors(app_client.app, ("/api/quality",), bearer(db, "qa"))
    assert len(checked) >= 30, checked
