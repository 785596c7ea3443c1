"""Access rules through the ASGI app: anonymous reads when the config opens them, read-only
tokens, expiring sessions, and user management through the API for admins only."""

from __future__ import annotations

import time

import psycopg
from fastapi.testclient import TestClient

from collectors.config.models import Web
from mes.api import create_app
from tests.mes.auth.helpers import add_user, bearer, sign_in

ORDER = {"number": "W-1", "line_id": "line1", "product_id": "lager", "planned_quantity": 5}


def client(db_url: str, **web: object) -> TestClient:
    return TestClient(create_app(db_url, web=Web(**web)), base_url="http://localhost")  # type: ignore[arg-type]


def test_anonymous_read_opens_reads_only(db: psycopg.Connection, db_url: str) -> None:
    with client(db_url, anonymous_read=True) as anonymous:
        assert anonymous.get("/api/products").status_code == 200
        assert anonymous.post("/api/orders", json=ORDER).status_code == 401
        assert anonymous.get("/api/users").status_code == 401  # admin reads still need the admin
    with client(db_url) as closed:
        assert closed.get("/api/products").status_code == 401


def test_a_read_token_cannot_write_and_an_action_token_only_its_action(db: psycopg.Connection, db_url: str) -> None:
    add_user(db, "ann", "supervisor")
    with client(db_url) as api:
        reader = bearer(db, "ann", ("read",))
        assert api.get("/api/products", headers=reader).status_code == 200
        assert api.post("/api/orders", json=ORDER, headers=reader).status_code == 403
        narrow = bearer(db, "ann", ("counts.adjust",))
        refused = api.post("/api/orders", json=ORDER, headers=narrow)
        assert refused.status_code == 403 and "scopes" in refused.text
        assert api.get("/api/me", headers=narrow).json()["actions"] == ["counts.adjust"]


def test_a_session_expires(db: psycopg.Connection, db_url: str) -> None:
    add_user(db, "ann", "operator")
    with client(db_url, session_hours=1 / 3600) as browser:  # one second
        assert sign_in(browser, "ann").status_code == 303
        assert browser.get("/api/me").status_code == 200
        time.sleep(1.5)
        assert browser.get("/api/me").status_code == 401


def test_admins_manage_users_through_the_api(db: psycopg.Connection, db_url: str) -> None:
    add_user(db, "root", "admin")
    add_user(db, "ann", "supervisor")
    with client(db_url) as api:
        assert api.post("/api/users", json={"name": "bob", "role": "operator", "password": "x" * 12},
                        headers=bearer(db, "ann")).status_code == 403  # fmt: skip
        admin = bearer(db, "root")
        added = api.post("/api/users", json={"name": "bob", "role": "operator", "password": "bob's long password"},
                         headers=admin)  # fmt: skip
        assert added.status_code == 201 and "password_hash" not in added.text
        short = api.post("/api/users", json={"name": "eve", "role": "operator", "password": "short"}, headers=admin)
        assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
        changed = api.patch("/api/users/bob", json={"role": "maintenance", "locale": "zh-CN"}, headers=admin)
        assert (changed.json()["role"], changed.json()["locale"]) == ("maintenance", "zh-CN")
        assert api.patch("/api/users/bob", json={"disabled": True}, headers=admin).json()["disabled"] is True
        assert sign_in(api, "bob", "bob's long password").status_code == 401
        log = api.get("/api/audit", params={"object": "user:bob"}, headers=admin).json()
        assert [(e["actor"], e["action"], e["address"]) for e in log] == [("root", "users.manage", "testclient")] * 3
        assert (log[0]["before"]["disabled"], log[0]["after"]["disabled"]) == (False, True)
