"""Must-shows of issue 16 against a real ``linebrain serve`` process on a free port: who may
write, what a write must look like, which hosts are answered, and the audit row of every write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from mes.production import derive
from tests.mes.auth.helpers import PASSWORD, add_user, bearer, form_token, sign_in
from tests.mes.auth.server import linebrain_serve
from tests.mes.production.scenario import FAULT, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")
ORDER = {"number": "W-1", "line_id": "line1", "product_id": "lager", "planned_quantity": 500}


@pytest.fixture
def server(db: psycopg.Connection, db_url: str, tmp_path: Path) -> Iterator[str]:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=1))
    with linebrain_serve(db_url, tmp_path) as base:
        yield base


def audit_rows(db: psycopg.Connection) -> list[tuple]:
    return db.execute("SELECT actor, action, object, route, address, before, after FROM audit_log "
                      "WHERE actor NOT LIKE 'test-%%' ORDER BY id").fetchall()  # fmt: skip


def test_writes_need_a_user_a_role_json_and_a_known_host(server: str, db: psycopg.Connection) -> None:
    add_user(db, "olga", "operator")
    operator = bearer(db, "olga")
    with httpx.Client(base_url=server) as client:
        assert client.post("/api/orders", json=ORDER).status_code == 401  # anonymous
        assert client.get("/api/lines").status_code == 401  # reads too, unless web.anonymous_read
        denied = client.post("/api/orders", json=ORDER, headers=operator)
        assert denied.status_code == 403 and "orders.plan" in denied.text  # operators do not plan orders
        plain = client.post("/api/orders", content='{"number": "W-1"}',
                            headers={**operator, "Content-Type": "text/plain"})
        assert plain.status_code == 415
        form = client.post("/api/orders", data={"number": "W-1"}, headers=operator)
        assert form.status_code == 415
        assert client.get("/api/lines", headers={**operator, "Host": "evil.example"}).status_code == 400
        assert client.get("/api/lines", headers=operator).status_code == 200
        # Security headers on every answer, errors included.
        for response in (denied, plain, client.get("/healthz")):
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert "unsafe-inline" not in response.headers["content-security-policy"].split("script-src")[1]
            assert response.headers["x-content-type-options"] == "nosniff"
    assert audit_rows(db) == []  # nothing was written


def test_a_form_without_its_csrf_token_is_refused(server: str, db: psycopg.Connection) -> None:
    add_user(db, "ann", "supervisor")
    with httpx.Client(base_url=server) as client:
        token = form_token(client.get("/login").text)
        no_token = client.post("/login", data={"name": "ann", "password": PASSWORD})
        assert no_token.status_code == 403
        wrong = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf_token": token + "x"})
        assert wrong.status_code == 403
        signed_in = sign_in(client, "ann")
        assert signed_in.status_code == 303
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
        assert client.get("/api/me").json()["role"] == "supervisor"
        assert client.post("/logout", data={}).status_code == 403  # signing out is a form too
        assert client.get("/api/me").status_code == 200
        # A page renders the session's token into its forms (mes.auth.deps.csrf_token); read it here.
        [(session_token,)] = db.execute("SELECT csrf_token FROM user_sessions").fetchall()
        assert client.post("/logout", data={"csrf_token": session_token}).status_code == 303
        assert client.get("/api/me").status_code == 401
        assert db.execute("SELECT count(*) FROM user_sessions").fetchone() == (0,)


def test_a_revoked_token_is_refused(server: str, db: psycopg.Connection) -> None:
    add_user(db, "root", "admin")
    add_user(db, "bridge", "supervisor")
    with httpx.Client(base_url=server, headers=bearer(db, "root")) as admin:
        created = admin.post("/api/tokens", json={"user": "bridge", "scopes": ["write"]})
    assert created.status_code == 403  # a token may not mint tokens: sign in with a password
    with httpx.Client(base_url=server) as admin:
        assert sign_in(admin, "root").status_code == 303
        created = admin.post("/api/tokens", json={"user": "bridge", "scopes": ["write"], "name": "MES bridge"})
        assert created.status_code == 201, created.text
        token = {"Authorization": f"Bearer {created.json()['token']}"}
        assert httpx.get(f"{server}/api/me", headers=token).json()["name"] == "bridge"
        assert "token" not in admin.get("/api/tokens", params={"all_users": True}).json()[0]
        assert admin.delete(f"/api/tokens/{created.json()['id']}").status_code == 200
    refused = httpx.get(f"{server}/api/me", headers=token)
    assert refused.status_code == 401 and "revoked" in refused.text
    assert httpx.get(f"{server}/api/me", headers={"Authorization": "Bearer lb_00000000_guess"}).status_code == 401


def test_the_tenth_wrong_password_finds_the_user_locked(server: str, db: psycopg.Connection) -> None:
    add_user(db, "ann", "operator")
    with httpx.Client(base_url=server) as client:
        answers = [sign_in(client, "ann", f"wrong password {i}") for i in range(10)]
        assert [a.status_code for a in answers] == [401] * 10
        assert "too many failed sign-ins" in answers[9].text
        right = sign_in(client, "ann")  # the right password does not open a locked account
        assert right.status_code == 401 and "too many failed sign-ins" in right.text
        assert "linebrain_session" not in right.headers.get("set-cookie", "")


def test_every_successful_write_leaves_exactly_one_audit_row(server: str, db: psycopg.Connection) -> None:
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=10), RUNNING), (T0 + timedelta(minutes=10),
                          T0 + timedelta(minutes=20), FAULT), (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30),
                          RUNNING)])  # fmt: skip
    writer.flush()
    derive.run_once(db, plant(), now=T0 + timedelta(minutes=30))
    add_user(db, "ann", "supervisor")
    with httpx.Client(base_url=server) as client:
        assert sign_in(client, "ann").status_code == 303
        order = client.post("/api/orders", json=ORDER).json()
        started = client.post(f"/api/orders/{order['id']}/start", json={"at": T0.isoformat()})
        assert started.status_code == 200
        refused = client.post(f"/api/orders/{order['id']}/start", json={"at": T0.isoformat()})
        assert refused.status_code == 409  # a failed write leaves no row
        [stop] = client.get("/api/lines/line1/downtime", params={"from": T0.isoformat(),
                                                                 "to": (T0 + timedelta(hours=1)).isoformat()}).json()
        client.post(f"/api/downtime/{stop['id']}/reason", json={"reason_code": "material", "why": "no bottles"})
        adjusted = client.post("/api/lines/line1/count-adjustments", json={
            "kind": "reject", "at": T0.isoformat(), "quantity": 3, "why": "recount"})  # fmt: skip
        assert adjusted.status_code == 201
    rows = audit_rows(db)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("ann", "orders.plan", f"order:{order['id']}", "POST /api/orders"),
        ("ann", "orders.transition", f"order:{order['id']}", f"POST /api/orders/{order['id']}/start"),
        ("ann", "downtime.assign", f"downtime:{stop['id']}", f"POST /api/downtime/{stop['id']}/reason"),
        ("ann", "counts.adjust", f"line:line1/count-adjustment:{adjusted.json()['id']}",
         "POST /api/lines/line1/count-adjustments"),
    ]  # fmt: skip
    assert {r[4] for r in rows} == {"127.0.0.1"}
    created, start, assign, adjust = (r[5:] for r in rows)
    assert created[0] is None and (created[1]["number"], created[1]["status"]) == ("W-1", "planned")
    assert (start[0]["status"], start[1]["status"]) == ("planned", "running")
    assert (assign[0]["reason_code"], assign[1]["reason_code"]) != ("material", "material")
    assert assign[1]["reason_code"] == "material" and assign[1]["assigned_by"] == "ann"
    assert adjust[0] is None
    assert (adjust[1]["kind"], adjust[1]["quantity"], adjust[1]["why"]) == ("reject", 3, "recount")
