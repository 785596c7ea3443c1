"""Forward-only schema migrations with a ledger table.

A migration is a SQL file ``NNNN_name.sql`` in a package's ``sql/`` folder. A
migration that differs between TimescaleDB and plain PostgreSQL comes as two
files, ``NNNN_name.timescale.sql`` and ``NNNN_name.plain.sql``; the ledger
records which variant ran, and ``schema_flavour`` which flavour the database
has (``flavour.py``: chosen once, then followed whatever the server offers).
Each migration runs in its own transaction together with its ledger row, under
an advisory lock, so two processes migrating at once apply every migration
exactly once. A file whose text changed after it ran is
reported, never re-run.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from importlib import resources

import psycopg

from collectors.database.flavour import settle_flavour
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
            timescale = settle_flavour(conn)  # first: raises before any DDL if the server cannot run it
            conn.execute(LEDGER_SQL)
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
            pin_pg_temp_last(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return MigrationResult(applied=applied, timescale=timescale, warnings=warnings)


# pg_temp is searched FIRST for tables unless it is named in search_path: a caller who may create
# temporary tables could shadow a table a SECURITY DEFINER function reads. Naming it last closes that.
_PIN_PG_TEMP_LAST = """
DO $pin$
DECLARE
    f record;
    path text[];
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS signature,
               (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) c
                WHERE c LIKE 'search_path=%') AS search_path
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND pg_has_role(p.proowner, 'USAGE')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')  -- extensions keep their own
    LOOP
        path := coalesce(string_to_array(replace(f.search_path, ' ', ''), ','), ARRAY['pg_catalog', 'public']);
        IF path[cardinality(path)] IS DISTINCT FROM 'pg_temp' THEN
            path := array_append(array_remove(path, 'pg_temp'), 'pg_temp');
            EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f.signature, array_to_string(path, ', '));
        END IF;
    END LOOP;
END
$pin$
"""


def pin_pg_temp_last(conn: psycopg.Connection) -> None:
    """Put ``pg_temp`` last in the ``search_path`` of every SECURITY DEFINER function we own.

    Runs after every migration run, so a function a later migration adds is covered too.
    """
    conn.execute(_PIN_PG_TEMP_LAST)


# TimescaleDB's background jobs (aggregate refresh, compression) update its catalog rows without waiting for
# a migration that drops or alters the same objects; the migration then fails with "tuple concurrently
# updated/deleted" (an internal error, its transaction rolled back). Running it again is safe.
_CATALOG_RACE_RETRIES = 5


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    for attempt in range(1, _CATALOG_RACE_RETRIES + 1):
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (source, version, name, variant, checksum) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (migration.source, migration.version, migration.name, migration.variant, migration.checksum),
                )
            return
        except psycopg.errors.InternalError_ as exc:
            if "concurrently" not in str(exc) or attempt == _CATALOG_RACE_RETRIES:
                raise _failed(migration, exc) from exc
            time.sleep(0.2 * attempt)
        except psycopg.Error as exc:
            raise _failed(migration, exc) from exc


def _failed(migration: Migration, exc: psycopg.Error) -> DatabaseError:
    return DatabaseError(f"migration {migration.source} {migration.version:04d}_{migration.name} failed: {exc}")
