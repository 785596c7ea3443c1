"""Small query helpers shared by the quality modules (rows as dicts, one-row lookups)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from mes.quality.errors import NotFound


def rows(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def one(conn: psycopg.Connection, sql: str, params: Any = None, *, what: str = "record") -> dict[str, Any]:
    """The single row ``sql`` returns; :class:`NotFound` naming ``what`` when there is none."""
    found = rows(conn, sql, params)
    if not found:
        raise NotFound(f"{what} not found")
    return found[0]
