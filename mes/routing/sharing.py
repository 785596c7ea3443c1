"""Read-only share links of one order's tracking page, for a customer or a sales colleague.

A link is a random token (``secrets.token_urlsafe``, 192 bits) shown once; only its SHA-256 is
stored. Whoever holds it sees that order's tracking page and nothing else, without signing in;
a revoked link shows nothing from then on.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import psycopg

from mes.db import first, rows
from mes.errors import Conflict, NotFound
from mes.routing.operations import routed_order

LINK_COLUMNS = "id, order_id, created_by, created_at, revoked_by, revoked_at"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(conn: psycopg.Connection, order_id: int, by: str) -> dict:
    """A new link to the order's tracking; ``token`` and ``path`` are in the answer only."""
    routed_order(conn, order_id)  # NotFound for an unknown order
    token = secrets.token_urlsafe(24)
    link = first(conn, f"INSERT INTO order_share_links (order_id, token_hash, created_by) VALUES (%s, %s, %s) "
                       f"RETURNING {LINK_COLUMNS}", (order_id, _digest(token), by))  # fmt: skip
    assert link is not None
    return {**link, "token": token, "path": f"/share/{token}"}


def without_token(link: dict) -> dict:
    """What the audit log keeps of a new link: not the token."""
    return {k: v for k, v in link.items() if k not in ("token", "path")}


def revoke_link(conn: psycopg.Connection, link_id: int, by: str, at: datetime | None = None) -> dict:
    link = first(conn, "UPDATE order_share_links SET revoked_by = %s, revoked_at = %s "
                       f"WHERE id = %s AND revoked_at IS NULL RETURNING {LINK_COLUMNS}",
                 (by, at or datetime.now(UTC), link_id))  # fmt: skip
    if link is None:
        if first(conn, "SELECT 1 AS known FROM order_share_links WHERE id = %s", (link_id,)) is None:
            raise NotFound(f"no share link {link_id}", field="link_id")
        raise Conflict(f"share link {link_id} is revoked already", field="link_id")
    return link


def order_of(conn: psycopg.Connection, token: str) -> int:
    """The order a live link shows; NotFound for an unknown or revoked one (the same answer, so a
    guesser learns nothing)."""
    row = conn.execute("SELECT order_id FROM order_share_links WHERE token_hash = %s AND revoked_at IS NULL",
                       (_digest(token),)).fetchone()  # fmt: skip
    if row is None:
        raise NotFound("this link is unknown or was revoked", field="token")
    return int(row[0])


def links(conn: psycopg.Connection, order_id: int) -> list[dict]:
    return rows(conn, f"SELECT {LINK_COLUMNS} FROM order_share_links WHERE order_id = %s ORDER BY id DESC",
                (order_id,))  # fmt: skip
