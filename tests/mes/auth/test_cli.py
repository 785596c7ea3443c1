"""``linebrain users``, ``tokens`` and ``audit`` on a real database, and the health routes of a
real server."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import httpx
import psycopg
from typer.testing import CliRunner

from mes.cli import app
from tests.mes.auth.server import linebrain_serve


def run(db_url: str, *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, [*args, "--database-url", db_url], input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_users_tokens_and_the_audit_log_from_the_command_line(db: psycopg.Connection, db_url: str,
                                                              tmp_path: Path) -> None:  # fmt: skip
    run(db_url, "users", "add", "ann", "--role", "supervisor", "--password-stdin", stdin="a long enough secret\n")
    short = CliRunner().invoke(app, ["users", "add", "bob", "--role", "operator", "--password-stdin",
                                     "--database-url", db_url], input="short\n")  # fmt: skip
    assert short.exit_code == 2 and "--password: a password needs at least 12 characters" in short.output
    assert [u["role"] for u in json.loads(run(db_url, "users", "list", "--json"))] == ["supervisor"]
    secret = run(db_url, "tokens", "create", "--user", "ann", "--scope", "read", "--expires", "30d").strip()
    assert secret.startswith("lb_")
    [token] = json.loads(run(db_url, "tokens", "list", "--json"))
    assert token["scopes"] == ["read"] and secret not in json.dumps(token)
    with linebrain_serve(db_url, tmp_path) as base:
        assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {secret}"}).json()["name"] == "ann"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz")
        assert ready.status_code == 200 and ready.json()["pending_migrations"] == []
        run(db_url, "tokens", "revoke", str(token["id"]))
        assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
        run(db_url, "users", "passwd", "ann", "--password-stdin", stdin="another long secret\n")
        run(db_url, "users", "disable", "ann")
    entries = json.loads(run(db_url, "audit", "list", "--user", f"cli:{getpass.getuser()}", "--json"))
    assert [(e["action"], e["object"]) for e in reversed(entries)] == [
        ("users.manage", "user:ann"), ("tokens.create", f"token:{token['id']}"),
        ("tokens.revoke", f"token:{token['id']}"), ("users.manage", "user:ann"), ("users.manage", "user:ann"),
    ]  # fmt: skip
    passwd, disable = entries[1], entries[0]
    assert passwd["after"]["password_changed"] is True and "password_hash" not in json.dumps(passwd)
    assert (disable["before"]["disabled"], disable["after"]["disabled"]) == (False, True)
    assert len(json.loads(run(db_url, "audit", "list", "--object", "token:", "--json"))) == 2


def test_readyz_fails_when_the_collectors_are_silent(db: psycopg.Connection, db_url: str, tmp_path: Path) -> None:
    with linebrain_serve(db_url, tmp_path, ready_max_batch_age_s=60) as base:
        silent = httpx.get(f"{base}/readyz")
        assert silent.status_code == 503 and silent.json()["last_batch_age_s"] is None
        db.execute("INSERT INTO store_batches (batch_id, rows) VALUES (gen_random_uuid(), 1)")
        fresh = httpx.get(f"{base}/readyz")
        assert fresh.status_code == 200 and fresh.json()["last_batch_age_s"] < 60


def test_run_serve_serves_next_to_the_collectors_and_stops_with_them(db: psycopg.Connection, db_url: str,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    with linebrain_serve(db_url, tmp_path, run=True) as base:
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/api/lines").status_code == 401
