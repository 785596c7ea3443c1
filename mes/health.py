"""Is this server ready for traffic? The database answers, its schema is current, and the
collectors' newest batch is recent enough (``/readyz``, for load balancers and systemd)."""

from __future__ import annotations

from typing import Any

import psycopg

from collectors.database.flavour import database_timescale
from collectors.database.migrations import MigrationSource
from mes.db import first, rows


def pending_migrations(conn: psycopg.Connection, sources: list[MigrationSource]) -> list[str]:
    """Migrations this code ships that the database has not applied."""
    applied = {(r["source"], r["version"]) for r in rows(conn, "SELECT source, version FROM schema_migrations")}
    timescale = database_timescale(conn)  # the database's own flavour, not the server's
    return [f"{m.source} {m.version:04d}_{m.name}" for source in sources for m in source.migrations(timescale)
            if (m.source, m.version) not in applied]  # fmt: skip


def readiness(conn: psycopg.Connection, sources: list[MigrationSource],
              max_batch_age_s: float | None = None) -> tuple[bool, dict[str, Any]]:  # fmt: skip
    """(ready?, the figures behind it)."""
    pending = pending_migrations(conn, sources)
    batch = first(conn, "SELECT max(committed_at) AS at, extract(epoch FROM now() - max(committed_at)) AS age "
                        "FROM store_batches")  # fmt: skip
    age = float(batch["age"]) if batch and batch["age"] is not None else None
    stale = max_batch_age_s is not None and (age is None or age > max_batch_age_s)
    report = {"database": "ok", "pending_migrations": pending, "last_batch_at": batch["at"] if batch else None,
              "last_batch_age_s": age, "batch_age_limit_s": max_batch_age_s}  # fmt: skip
    return not pending and not stale, report
