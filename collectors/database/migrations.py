"""Forward-only schema migrations with a ledger table.

A migration is a SQL file ``NNNN_name.sql`` in a package's ``sql/`` folder. A
migration that differs between TimescaleDB and plain PostgreSQL comes as two
files, ``NNNN_name.timescale.sql`` and ``NNNN_name.plain.sql``; the ledger
records which variant ran. Each migration runs in its own transaction together
with its ledger row, under an advisory lock, so two processes migrating at once
apply every migration exactly once. A file whose text changed after it ran is
reported, never re-run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from collectors.errors import DatabaseError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(timescale|plain))?\.sql$")
_LOCK_KEY = 7_310_442_001  # arbitrary, constant: "linebrain migrations"

LEDGER_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    source     text        NOT NULL,
    version    integer     NOT NULL,
    name       text        NOT NULL,
    variant    text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, version)
)
"""


@dataclass(frozen=True)
class Migration:
    source: str
    version: int
    name: str
    variant: str  # "any", "timescale" or "plain"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MigrationSource:
    """A package's folder of migrations, e.g. ``MigrationSource("collectors", "collectors.database")``."""

    name: str
    package: str
    folder: str = "sql"

    def migrations(self, timescale: bool) -> list[Migration]:
        root = resources.files(self.package).joinpath(self.folder)
        chosen: dict[int, Migration] = {}
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            match = _NAME.match(entry.name)
            if not match:
                continue
            version, name, variant = int(match.group(1)), match.group(2), match.group(3) or "any"
            if (variant == "timescale" and not timescale) or (variant == "plain" and timescale):
                continue
            if version in chosen:
                raise DatabaseError(f"{self.name}: two migrations numbered {version:04d}")
            chosen[version] = Migration(self.name, version, name, variant, entry.read_text())
        return [chosen[v] for v in sorted(chosen)]


COLLECTORS = MigrationSource("collectors", "collectors.database")


def timescale_available(conn: psycopg.Connection) -> bool:
    """TimescaleDB is used when it is installed *and* preloaded (it cannot work otherwise)."""
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb' "
        "AND current_setting('shared_preload_libraries') LIKE '%%timescaledb%%'"
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    timescale: bool
    warnings: list[str]


def migrate(url: str, sources: list[MigrationSource] | None = None) -> MigrationResult:
    """Apply every pending migration of ``sources`` (collectors first) in order."""
    sources = sources or [COLLECTORS]
    applied: list[str] = []
    warnings: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(LEDGER_SQL)
            timescale = timescale_available(conn)
            done = {
                (row[0], row[1]): row[2]
                for row in conn.execute("SELECT source, version, checksum FROM schema_migrations")
            }
            for source in sources:
                for migration in source.migrations(timescale):
                    key = (migration.source, migration.version)
                    if key in done:
                        if done[key] != migration.checksum:
                            warnings.append(
                                f"{migration.source} {migration.version:04d}_{migration.name} changed "
                                "after it was applied; migrations are forward-only: add a new one"
                            )
                        continue
                    _apply(conn, migration)
                    applied.append(f"{migration.source} {migration.version:04d}_{migration.name} ({migration.variant})")
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return MigrationResult(applied=applied, timescale=timescale, warnings=warnings)


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (source, version, name, variant, checksum) "
                "VALUES (%s, %s, %s, %s, %s)",
                (migration.source, migration.version, migration.name, migration.variant, migration.checksum),
            )
    except psycopg.Error as exc:
        raise DatabaseError(
            f"migration {migration.source} {migration.version:04d}_{migration.name} failed: {exc}"
        ) from exc


