"""Query helpers for the domain modules: rows as dicts, the common shape of a read."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def rows(conn: psycopg.Connection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Every row ``sql`` returns, as dicts (an empty list for a statement without rows)."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def first(conn: psycopg.Connection, sql: str, params: Any = None) -> dict[str, Any] | None:
    """The first row ``sql`` returns as a dict, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchone() if cur.description else None


def scalar(conn: psycopg.Connection, sql: str, params: Any = None) -> Any:
    """The first column of the first row ``sql`` returns, or None (an aggregate's answer)."""
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None
