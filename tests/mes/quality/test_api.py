"""The quality API: routes call the domain, errors come back as 422/404/409 with a clear detail."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from mes.api import create_app
from tests.mes.auth.helpers import add_user, bearer
from tests.mes.quality.datasets import PISTON_RINGS
from tests.mes.quality.helpers import at, make_line, make_order


@pytest.fixture
def client(db: psycopg.Connection, db_url: str) -> Iterator[TestClient]:
    make_line(db)
    add_user(db, "qa-lead", "quality")
    with TestClient(create_app(db_url), base_url="http://localhost", headers=bearer(db, "qa-lead")) as test_client:
        yield test_client


def test_spec_inspection_nonconformance_round_trip(client: TestClient, db: psycopg.Connection) -> None:
    order = make_order(db, "WO-9", at(0), at(60))
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
    database, never answers with a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings


    make_line(db)
    make_order(db, "WO-1", at(0), at(60))
    add_user(db, "qa", "admin")
    with TestClient(create_app(db_url), base_url="http://localhost", headers=bearer(db, "qa")) as app_client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app_client.app, headers={"Host": "localhost"})
        checked = []
        for result in schema.get_all_operations():
            operation = result.ok()
            if not operation.path.startswith("/api/quality"):
                continue

            @given(case=operation.as_strategy())
            @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call(headers={"Host": "localhost", **app_client.headers})
                assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"

            no_server_error()
            checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 30, checked
