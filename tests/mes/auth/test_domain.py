"""Users, passwords, lock-out, tokens and the audit table, on the real database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import argon2
import psycopg
import pytest

from mes.auth import audit, permissions, sessions, tokens, users
from mes.auth.models import SignInRefused
from mes.errors import Conflict, InvalidInput
from tests.conftest import REPO
from tests.mes.auth.helpers import PASSWORD, add_user


def test_passwords_are_argon2id_hashes_with_a_minimum_length(db: psycopg.Connection) -> None:
    with pytest.raises(InvalidInput, match="at least 12"):
        users.add_user(db, "ann", "operator", "short", actor="t")
    add_user(db, "ann", "operator")
    stored = db.execute("SELECT password_hash FROM users WHERE name = 'ann'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(Conflict):
        add_user(db, "ann", "supervisor")
    with pytest.raises(InvalidInput, match="unknown role"):
        users.add_user(db, "bob", "boss", PASSWORD, actor="t")
    assert users.authenticate(db, "ann", PASSWORD).role == "operator"
    with pytest.raises(SignInRefused, match="wrong name or password"):
        users.authenticate(db, "ann", PASSWORD + "x")
    with pytest.raises(SignInRefused, match="wrong name or password"):
        users.authenticate(db, "nobody", PASSWORD)


@pytest.mark.usefixtures("production_password_hashes")
def test_the_product_hashes_with_the_rfc_9106_low_memory_profile_and_upgrades_weaker_hashes(
        db: psycopg.Connection) -> None:  # fmt: skip
    """The suite hashes with cheap argon2id parameters (tests/conftest.py); this test runs on the product's."""
    add_user(db, "ann", "operator")
    stored = db.execute("SELECT password_hash FROM users WHERE name = 'ann'").fetchone()[0]
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert users.authenticate(db, "ann", PASSWORD).name == "ann"
    with pytest.raises(SignInRefused, match="wrong name or password"):
        users.authenticate(db, "nobody", PASSWORD)  # costs a check against the dummy hash of the same profile
    # A hash made with weaker parameters (here the suite's own) is replaced at the next good sign-in.
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("a weakly hashed password")
    db.execute("UPDATE users SET password_hash = %s WHERE name = 'ann'", (weak,))
    assert users.authenticate(db, "ann", "a weakly hashed password").name == "ann"
    upgraded = db.execute("SELECT password_hash FROM users WHERE name = 'ann'").fetchone()[0]
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and upgraded != weak


def test_repeated_failures_lock_the_user_even_against_the_right_password(
    db: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    add_user(db, "ann", "operator")
    for _ in range(users.MAX_FAILURES):
        with pytest.raises(SignInRefused):
            users.authenticate(db, "ann", "wrong password!!", "10.0.0.9")
    with pytest.raises(SignInRefused, match="too many failed sign-ins"):
        users.authenticate(db, "ann", PASSWORD)
    assert any("locked until" in r.message and "10.0.0.9" in r.message for r in caplog.records)
    assert all("wrong password!!" not in r.message for r in caplog.records)
    users.change_user(db, "ann", actor="admin", password="a brand new password")  # an admin lifts the lock
    assert users.authenticate(db, "ann", "a brand new password").name == "ann"


def test_a_session_ends_when_the_password_changes_or_the_user_is_disabled(db: psycopg.Connection) -> None:
    add_user(db, "ann", "operator")
    first = sessions.sign_in(db, "ann", PASSWORD, timedelta(hours=1))
    second = sessions.sign_in(db, "ann", PASSWORD, timedelta(hours=1), old_token=first.token)
    assert first.token != second.token and sessions.session(db, first.token) is None  # rotated at sign-in
    assert sessions.session(db, second.token).user.name == "ann"
    users.change_user(db, "ann", actor="admin", disabled=True)
    assert sessions.session(db, second.token) is None
    with pytest.raises(SignInRefused):
        sessions.sign_in(db, "ann", PASSWORD, timedelta(hours=1))


def test_tokens_are_stored_hashed_and_stop_when_revoked_or_expired(db: psycopg.Connection) -> None:
    add_user(db, "ann", "supervisor")
    secret, record = tokens.create_token(db, "ann", ["read", "counts.adjust"], actor="admin")
    assert re.fullmatch(r"lb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", secret) and record["prefix"] in secret
    assert db.execute("SELECT count(*) FROM api_tokens WHERE token_hash::text LIKE %s",
                      (f"%{secret}%",)).fetchone()[0] == 0  # fmt: skip
    user = tokens.token_user(db, secret)
    assert user is not None and user.scopes == {"read", "counts.adjust"}
    assert tokens.token_may(user, "counts.adjust") and not tokens.token_may(user, "orders.plan")
    tokens.revoke_token(db, record["id"], actor="admin")
    assert tokens.token_user(db, secret) is None
    old, _ = tokens.create_token(db, "ann", ["write"], actor="admin", expires_at=datetime.now(UTC) - timedelta(1))
    assert tokens.token_user(db, old) is None
    with pytest.raises(InvalidInput, match="unknown scope"):
        tokens.create_token(db, "ann", ["everything"], actor="admin")


def test_the_audit_log_is_append_only(db: psycopg.Connection) -> None:
    row_id = audit.record(db, "ann", "counts.adjust", "line:line1/count-adjustment:1", None, {"quantity": 5},
                          "10.0.0.1")  # fmt: skip
    # The table itself: in the keeper's schema once the superuser sealed it (mes/auth/keeper.py).
    [table] = db.execute("SELECT coalesce(to_regclass('audit.audit_log'), 'audit_log')::text").fetchone()
    for statement in ("UPDATE audit_log SET actor = 'eve'", "DELETE FROM audit_log", f"TRUNCATE {table}"):
        # Refused by privilege (the application may only SELECT and INSERT), else by the trigger.
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"append-only|permission denied"):
            db.execute(statement)
    [entry] = audit.entries(db, object="line:line1/")
    assert (entry["id"], entry["actor"], entry["after"], entry["address"]) == (row_id, "ann", {"quantity": 5},
                                                                               "10.0.0.1")  # fmt: skip


def test_the_permission_table_in_the_docs_is_the_one_in_the_code() -> None:
    text = (REPO / "docs" / "security.md").read_text()
    documented = text.split("<!-- permission-table:start -->")[1].split("<!-- permission-table:end -->")[0]
    assert documented.strip() == permissions.markdown_table()
    assert permissions.allowed("operator", "downtime.assign") and not permissions.allowed("operator", "counts.adjust")
    assert all(permissions.allowed("admin", action) for action in permissions.ACTIONS)
    with pytest.raises(KeyError):
        permissions.allowed("admin", "orders.delete")
