"""Users: argon2id password hashes, roles, disabling, and signing in with a lock-out.

After :data:`MAX_FAILURES` wrong passwords in a row a user is locked for
:data:`LOCK_TIME`; every failure is logged (name and address, never the
password). An unknown name costs the same hash check as a known one, so the
answer time does not tell which names exist.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mes.auth import audit
from mes.auth.models import SignInRefused, User
from mes.auth.permissions import ROLES
from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)
LOCALES = ("en", "zh-CN")

# argon2id, RFC 9106 "low memory" profile (t=3, m=64 MiB, p=4). Deliberately no setting: only the test
# suite's fixture (tests/conftest.py) swaps in cheaper argon2id parameters, for the test process alone.
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone: equalises the time of an unknown name")

_PUBLIC = "id, name, display_name, role, locale, disabled, locked_until, created_at, password_changed_at"


def check_password(password: str) -> None:
    """A password we accept: long enough and not absurdly long (argon2 time grows with it)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password may have at most {MAX_PASSWORD_LENGTH} characters", "password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}", "role")


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise InvalidInput(f"unknown locale {locale!r}; one of {', '.join(LOCALES)}", "locale")


def add_user(conn: psycopg.Connection, name: str, role: str, password: str, *, actor: str,
             display_name: str = "", locale: str = "en", address: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Create a user (audited). A name that exists is a :class:`Conflict`."""
    _check_role(role)
    _check_locale(locale)
    check_password(password)
    with conn.transaction():
        if first(conn, "SELECT 1 FROM users WHERE name = %s", (name,)):
            raise Conflict(f"user {name!r} exists", "name")
        user = first(conn, f"INSERT INTO users (name, display_name, role, locale, password_hash) "
                           f"VALUES (%s, %s, %s, %s, %s) RETURNING {_PUBLIC}",
                     (name, display_name, role, locale, _hasher.hash(password)))  # fmt: skip
        assert user is not None
        audit.record(conn, actor, "users.manage", f"user:{name}", None, user, address)
    return user


def list_users(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every user, without password hashes."""
    return rows(conn, f"SELECT {_PUBLIC} FROM users ORDER BY name")


def get_user(conn: psycopg.Connection, name: str) -> dict[str, Any]:
    user = first(conn, f"SELECT {_PUBLIC} FROM users WHERE name = %s", (name,))
    if user is None:
        raise NotFound(f"no user {name!r}", "name")
    return user


def change_user(conn: psycopg.Connection, name: str, *, actor: str, address: str | None = None,
                password: str | None = None, role: str | None = None, locale: str | None = None,
                disabled: bool | None = None, display_name: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Change a user's password, role, locale, name shown or disabled flag (audited; the hash never
    reaches the log). A new password or disabling ends the user's sessions."""
    changes: dict[str, Any] = {}
    if role is not None:
        _check_role(role)
        changes["role"] = role
    if locale is not None:
        _check_locale(locale)
        changes["locale"] = locale
    if display_name is not None:
        changes["display_name"] = display_name
    if disabled is not None:
        changes["disabled"] = disabled
    if password is not None:
        check_password(password)
        changes.update(password_hash=_hasher.hash(password), failed_sign_ins=0, locked_until=None)
    with conn.transaction():
        before = get_user(conn, name)
        if changes:
            assignments = ", ".join(f"{column} = %s" for column in changes)
            extra = ", password_changed_at = now()" if password is not None else ""
            conn.execute(f"UPDATE users SET {assignments}{extra} WHERE name = %s", (*changes.values(), name))
        if password is not None or disabled:
            conn.execute("DELETE FROM user_sessions WHERE user_id = %s", (before["id"],))
        after = get_user(conn, name)
        audit.record(conn, actor, "users.manage", f"user:{name}", before,
                     {**after, "password_changed": password is not None}, address)  # fmt: skip
    return after


def authenticate(conn: psycopg.Connection, name: str, password: str, address: str | None = None) -> User:
    """The user with this name and password, or :class:`SignInRefused`. Counts failures and locks
    the user after :data:`MAX_FAILURES` in a row; a locked user is refused even with the right
    password until the lock ends."""
    row = first(conn, "SELECT id, name, display_name, role, locale, password_hash, disabled, "
                      "locked_until > now() AS locked FROM users WHERE name = %s", (name,))  # fmt: skip
    if row is None:
        _verify(_DUMMY_HASH, password)
        log.warning("sign-in refused: unknown user %r from %s", name, address)
        raise SignInRefused("wrong name or password")
    if row["locked"]:
        _verify(_DUMMY_HASH, password)
        log.warning("sign-in refused: user %r is locked (from %s)", name, address)
        raise SignInRefused("too many failed sign-ins: try again later")
    if not _verify(row["password_hash"], password) or row["disabled"]:
        _count_failure(conn, row["id"], name, address)
        raise SignInRefused("wrong name or password")
    conn.execute("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = %s", (row["id"],))
    if _hasher.check_needs_rehash(row["password_hash"]):
        conn.execute("UPDATE users SET password_hash = %s WHERE id = %s", (_hasher.hash(password), row["id"]))
    return User(row["id"], row["name"], row["role"], row["locale"], row["display_name"])


def _verify(password_hash: str, password: str) -> bool:
    """argon2's own verify: constant time in the comparison of the digests."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _count_failure(conn: psycopg.Connection, user_id: int, name: str, address: str | None) -> None:
    row = first(conn, "UPDATE users SET failed_sign_ins = failed_sign_ins + 1, "
                      "locked_until = CASE WHEN failed_sign_ins + 1 >= %s THEN now() + %s END "
                      "WHERE id = %s RETURNING failed_sign_ins, locked_until",
                (MAX_FAILURES, LOCK_TIME, user_id))  # fmt: skip
    assert row is not None
    if row["locked_until"] is not None:
        log.warning("user %r locked until %s after %d failed sign-ins (last from %s)", name,
                    row["locked_until"], row["failed_sign_ins"], address)  # fmt: skip
    else:
        log.warning("sign-in refused: wrong password for %r from %s (%d in a row)", name, address,
                    row["failed_sign_ins"])  # fmt: skip
