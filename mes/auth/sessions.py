"""Browser sessions: a random cookie value whose SHA-256 is stored, with the form (CSRF) token
of that session and an expiry. Signing in always makes a new session (the old cookie value
is dropped: no fixation); signing out deletes it."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from mes.auth.models import User
from mes.auth.users import authenticate
from mes.db import first


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value: shown to the browser once, stored only hashed
    csrf_token: str
    user: User
    expires_at: datetime


def digest(token: str) -> bytes:
    """What is stored of a session or API token (the token itself is 256 random bits)."""
    return hashlib.sha256(token.encode()).digest()


def sign_in(conn: psycopg.Connection, name: str, password: str, lifetime: timedelta,
            address: str | None = None, old_token: str | None = None) -> Session:  # fmt: skip
    """Check the password (:class:`~mes.auth.models.SignInRefused` when wrong) and start a session."""
    user = authenticate(conn, name, password, address)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with conn.transaction():
        if old_token:
            conn.execute("DELETE FROM user_sessions WHERE token_hash = %s", (digest(old_token),))
        conn.execute("DELETE FROM user_sessions WHERE user_id = %s AND expires_at < now()", (user.id,))
        row = conn.execute("INSERT INTO user_sessions (token_hash, user_id, csrf_token, address, expires_at) "
                           "VALUES (%s, %s, %s, %s, now() + %s) RETURNING expires_at",
                           (digest(token), user.id, csrf, address, lifetime)).fetchone()  # fmt: skip
    assert row is not None
    return Session(token, csrf, user, row[0])


def sign_out(conn: psycopg.Connection, token: str) -> None:
    """End the session (nothing happens for an unknown token)."""
    conn.execute("DELETE FROM user_sessions WHERE token_hash = %s", (digest(token),))


def session(conn: psycopg.Connection, token: str) -> Session | None:
    """The live session of a cookie value, or None (unknown, expired, or its user disabled)."""
    row = first(conn, "SELECT u.id, u.name, u.role, u.locale, u.display_name, s.csrf_token, s.expires_at "
                      "FROM user_sessions s JOIN users u ON u.id = s.user_id "
                      "WHERE s.token_hash = %s AND s.expires_at > now() AND NOT u.disabled",
                (digest(token),))  # fmt: skip
    if row is None:
        return None
    user = User(row["id"], row["name"], row["role"], row["locale"], row["display_name"])
    return Session(token, row["csrf_token"], user, row["expires_at"])


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two tokens (False when either is missing)."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())
