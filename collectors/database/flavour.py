"""Which flavour a database runs: TimescaleDB or plain PostgreSQL, and why.

The migrations choose the flavour once per database (see ``migrations.py``);
this module only reports it, for ``linebrain db status``, ``linebrain status``
and ``linebrain db stats``, so a user sees at once whether hypertables,
compression and continuous aggregates are in use — and, on plain PostgreSQL,
what is missing for TimescaleDB.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# Whether the server preloads TimescaleDB, as any role can tell: the loader library defines its
# postmaster-level settings (``timescaledb.bgw_launcher_poll_time``) only when it is in
# ``shared_preload_libraries`` — a setting only superusers and ``pg_read_all_settings`` may read
# (``pg_settings`` hides it from LineBrain's own role instead of raising).
PRELOADED_SQL = (
    "(EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time')"
    " OR EXISTS (SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries' AND setting LIKE '%timescaledb%'))"
)


@dataclass(frozen=True)
class Flavour:
    timescaledb: bool
    version: str | None  # the extension's version in this database, when created
    note: str  # on plain PostgreSQL: why not TimescaleDB

    @property
    def label(self) -> str:
        if self.timescaledb:
            return f"TimescaleDB {self.version}"
        return f"plain PostgreSQL ({self.note})" if self.note else "plain PostgreSQL"


def database_flavour(conn: psycopg.Connection) -> Flavour:
    """The flavour of the database ``conn`` is connected to."""
    row = conn.execute(
        "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
        "       (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),"
        f"       {PRELOADED_SQL},"
        "       to_regclass('schema_migrations') IS NOT NULL"
    ).fetchone()
    created, available, preloaded, migrated = row if row else (None, None, False, False)
    if created:
        return Flavour(True, str(created), "")
    if not available:
        note = "TimescaleDB is not installed on the server"
    elif not preloaded:
        note = f"TimescaleDB {available} is installed but not in shared_preload_libraries"
    elif migrated:
        note = f"TimescaleDB {available} is available; the schema was migrated without it"
    else:
        note = f"TimescaleDB {available} is available; the schema is not migrated yet"
    return Flavour(False, None, note)
