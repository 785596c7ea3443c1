"""Query helpers of the quality modules: the shared ones, plus a lookup that names what is missing."""

from __future__ import annotations

from typing import Any

import psycopg

from mes.db import rows
from mes.quality.errors import NotFound

__all__ = ["one", "rows"]


def one(conn: psycopg.Connection, sql: str, params: Any = None, *, what: str = "record") -> dict[str, Any]:
    """The single row ``sql`` returns; :class:`NotFound` naming ``what`` when there is none."""
    found = rows(conn, sql, params)
    if not found:
        raise NotFound(f"{what} not found")
    return found[0]
