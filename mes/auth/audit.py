"""The one audit helper: who did what to which object, from where, with the values before
and after — written in the caller's transaction, so the record and the change commit together
or not at all. The ``audit_log`` table is append-only (a trigger refuses UPDATE, DELETE and
TRUNCATE; mes/sql/0100_auth.sql) and belongs to a role the application cannot become: it may
only insert and read (mes/auth/keeper.py)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mes.db import rows


def _plain(value: Any) -> Any:
    """JSON for the values domain functions return (times as ISO 8601, decimals as numbers)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def _json(value: Any) -> Jsonb | None:
    if value is None:
        return None
    return Jsonb(value, dumps=lambda obj: json.dumps(obj, default=_plain, allow_nan=False))


def record(conn: psycopg.Connection, actor: str, action: str, object: str, before: Any, after: Any,
           address: str | None = None, route: str | None = None) -> int:  # fmt: skip
    """Append one audit row; returns its id. Call it inside the write's transaction."""
    row = conn.execute(
        "INSERT INTO audit_log (actor, action, object, address, route, before, after) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (actor, action, object, address, route, _json(before), _json(after)),
    ).fetchone()
    assert row is not None
    return int(row[0])


def entries(conn: psycopg.Connection, *, user: str | None = None, since: datetime | None = None,
            object: str | None = None, action: str | None = None,
            limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
    """Audit rows, newest first; ``object`` matches exactly or as a prefix ending in ``:`` or ``/``
    (``order:`` lists every order)."""
    return rows(
        conn,
        "SELECT id, at, actor, action, object, address, route, before, after FROM audit_log "
        "WHERE (%(user)s::text IS NULL OR actor = %(user)s) AND (%(since)s::timestamptz IS NULL OR at >= %(since)s) "
        "AND (%(action)s::text IS NULL OR action = %(action)s) "
        "AND (%(object)s::text IS NULL OR object = %(object)s "
        "     OR (right(%(object)s, 1) IN (':', '/') AND starts_with(object, %(object)s))) "
        "ORDER BY id DESC LIMIT %(limit)s",
        {"user": user, "since": since, "object": object, "action": action, "limit": limit},
    )
