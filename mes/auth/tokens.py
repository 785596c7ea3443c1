"""API tokens for scripts and integrations: ``Authorization: Bearer lb_<prefix>_<secret>``.

The token is shown once, at creation; only its SHA-256 is stored. A token acts for its user,
narrowed by its scopes: ``read`` (GET only), ``write`` (everything the user's role allows) or
single action names (``counts.adjust``; they imply ``read``). Revoked or expired tokens are
refused (401)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import psycopg

from mes.auth import audit
from mes.auth.models import User
from mes.auth.permissions import ACTIONS
from mes.auth.sessions import digest
from mes.auth.users import get_user
from mes.db import first, rows
from mes.errors import InvalidInput, NotFound

SCOPES = ("read", "write")
_PUBLIC = "t.id, u.name AS user_name, t.name, t.prefix, t.scopes, t.created_at, t.expires_at, t.revoked_at, " \
          "t.last_used_at"  # fmt: skip


def check_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise InvalidInput("a token needs at least one scope", "scopes")
    for scope in scopes:
        if scope not in SCOPES and scope not in ACTIONS:
            raise InvalidInput(f"unknown scope {scope!r}: read, write or an action ({', '.join(ACTIONS)})", "scopes")
    return sorted(set(scopes))


def create_token(conn: psycopg.Connection, user_name: str, scopes: list[str], *, actor: str,
                 expires_at: datetime | None = None, name: str = "",
                 address: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """A new token for ``user_name``: (the secret, shown only now; its record). Audited."""
    scopes = check_scopes(scopes)
    if expires_at is not None and expires_at.tzinfo is None:
        raise InvalidInput("the expiry needs a time zone offset", "expires_at")
    prefix = secrets.token_hex(4)
    secret = f"lb_{prefix}_{secrets.token_urlsafe(32)}"
    with conn.transaction():
        user = get_user(conn, user_name)
        row = first(conn, "INSERT INTO api_tokens (user_id, name, prefix, token_hash, scopes, expires_at) "
                          "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                    (user["id"], name, prefix, digest(secret), scopes, expires_at))  # fmt: skip
        assert row is not None
        record = get_token(conn, row["id"])
        audit.record(conn, actor, "tokens.create", f"token:{row['id']}", None, record, address)
    return secret, record


def get_token(conn: psycopg.Connection, token_id: int) -> dict[str, Any]:
    row = first(conn, f"SELECT {_PUBLIC} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = %s",
                (token_id,))  # fmt: skip
    if row is None:
        raise NotFound(f"no token {token_id}", "token_id")
    return row


def list_tokens(conn: psycopg.Connection, user_name: str | None = None) -> list[dict[str, Any]]:
    """Tokens (never their secrets), newest first; one user's when ``user_name`` is given."""
    return rows(conn, f"SELECT {_PUBLIC} FROM api_tokens t JOIN users u ON u.id = t.user_id "
                      "WHERE %(user)s::text IS NULL OR u.name = %(user)s ORDER BY t.id DESC",
                {"user": user_name})  # fmt: skip


def revoke_token(conn: psycopg.Connection, token_id: int, *, actor: str, address: str | None = None) -> dict[str, Any]:
    """Revoke a token at once (audited); revoking twice keeps the first time."""
    with conn.transaction():
        before = get_token(conn, token_id)
        conn.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s", (token_id,))
        after = get_token(conn, token_id)
        audit.record(conn, actor, "tokens.revoke", f"token:{token_id}", before, after, address)
    return after


def token_user(conn: psycopg.Connection, secret: str) -> User | None:
    """The user a bearer token acts for (with the token's scopes), or None when the token is
    unknown, revoked, expired or its user disabled."""
    row = first(conn, "UPDATE api_tokens t SET last_used_at = now() FROM users u "
                      "WHERE t.token_hash = %s AND u.id = t.user_id AND t.revoked_at IS NULL "
                      "AND (t.expires_at IS NULL OR t.expires_at > now()) AND NOT u.disabled "
                      "RETURNING u.id, u.name, u.role, u.locale, u.display_name, t.scopes",
                (digest(secret),))  # fmt: skip
    if row is None:
        return None
    return User(row["id"], row["name"], row["role"], row["locale"], row["display_name"], frozenset(row["scopes"]))


def token_may(user: User, action: str | None) -> bool:
    """Do the user's token scopes cover ``action`` (None: a read)? Sessions (no scopes) always do."""
    if user.scopes is None:
        return True
    if action is None:
        return True  # every scope implies read
    return "write" in user.scopes or action in user.scopes
