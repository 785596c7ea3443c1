"""Convert a plain-PostgreSQL LineBrain database to TimescaleDB, in place, in one transaction.

A plant that started on plain PostgreSQL and installed TimescaleDB later keeps a plain database
(``flavour.py``); this turns it into what a database created on TimescaleDB is: ``samples`` a
hypertable with compression and its policy, ``samples_1m``/``samples_1h`` continuous aggregates
with refresh policies, the TimescaleDB variants of the storage functions, and the ledger and
``schema_flavour`` saying so. It follows the shipped migrations instead of restating them:

1. the objects the ``*.plain.sql`` migrations made, except ``samples``, are dropped (found by name
   in those files: functions, tables, triggers, indexes);
2. ``samples`` is renamed aside and the ``*.timescale.sql`` variant of 0002 makes the hypertable,
   its table created ``LIKE`` the old one, so columns added by later migrations (0005, ...) come too;
3. the rows are copied partition by partition (``progress`` is called after each); the indexes,
   grants and views other migrations put on ``samples`` (``grafana.tag_latest``, the partial index
   ``samples_not_good``) are made again on the new table, then the old one is dropped;
4. the other ``*.timescale.sql`` variants run in order (0003, 0020, 0021: the last one records
   every sample's range as pending, so the rollups are materialised by the next refresh).

All of it commits or none: a failure leaves the plain database as it was. The rollups are then
refreshed outside the transaction (``refresh_continuous_aggregate`` cannot run inside one); if
that is interrupted, the pending ranges stay and the collector's 30 s refresh finishes them, and
until then real-time aggregation answers from the samples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from collectors.database.flavour import RECORD_SQL, recorded_timescale, server_offer
from collectors.database.migrations import _LOCK_KEY, COLLECTORS, LEDGER_SQL, Migration, pin_pg_temp_last
from collectors.errors import DatabaseError

Progress = Callable[[int, int], None]  # (rows copied, rows in all)

_CREATE_SAMPLES = re.compile(r"CREATE TABLE samples \((?:[^;])*?\n\);", re.S)
_LIKE_OLD = (
    "CREATE TABLE samples (LIKE samples_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMMENTS "
    "INCLUDING STORAGE INCLUDING GENERATED INCLUDING IDENTITY);"
)


@dataclass(frozen=True)
class Conversion:
    rows: int  # samples copied into the hypertable
    views: list[str]  # views on samples made again
    indexes: list[str]  # indexes of other migrations made again on samples


def convert_to_timescale(url: str, progress: Progress | None = None) -> Conversion:
    """Convert the plain database at ``url`` (migrated up to date) to TimescaleDB; see the module."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            variants = _check_convertible(conn)
            with conn.transaction():
                conversion = _convert(conn, variants, progress)
            pin_pg_temp_last(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return conversion


def _check_convertible(conn: psycopg.Connection) -> dict[str, list[Migration]]:
    """The collectors' plain and timescale variants, once the database is found plain, up to date and
    on a server that runs TimescaleDB."""
    own = recorded_timescale(conn)
    if own is None:
        raise DatabaseError("this database is not migrated yet: run linebrain db migrate first")
    if own:
        raise DatabaseError("this database is already a TimescaleDB database")
    offer = server_offer(conn)
    if not offer.timescaledb:
        raise DatabaseError(
            "the server does not run TimescaleDB (installed and in shared_preload_libraries): "
            + ("it is not installed" if offer.available is None else "it is installed but not preloaded")
        )
    plain = COLLECTORS.migrations(timescale=False)
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations WHERE source = 'collectors'")}
    missing = [f"{m.version:04d}_{m.name}" for m in plain if m.version not in applied]
    if missing:
        raise DatabaseError(f"collectors migrations {', '.join(missing)} are pending: run linebrain db migrate first")
    return {"plain": [m for m in plain if m.variant == "plain"],
            "timescale": [m for m in COLLECTORS.migrations(timescale=True) if m.variant == "timescale"]}  # fmt: skip


def _convert(conn: psycopg.Connection, variants: dict[str, list[Migration]], progress: Progress | None) -> Conversion:
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    views = _views_on(conn, "samples")
    indexes = _indexes_on(conn, "samples")
    plain_only = _named_in(variants["plain"])
    _drop_plain_objects(conn, plain_only)
    conn.execute("ALTER TABLE samples RENAME TO samples_plain")
    for name in indexes:
        aside = sql.Identifier(name + "_plain")
        conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(sql.Identifier(name), aside))
    first, *rest = variants["timescale"]
    if first.version != 2 or len(_CREATE_SAMPLES.findall(first.sql)) != 1:
        raise DatabaseError(f"collectors {first.version:04d}_{first.name}.timescale.sql does not create samples as "
                            "this conversion expects; it needs updating")  # fmt: skip
    conn.execute(_CREATE_SAMPLES.sub(_LIKE_OLD, first.sql).encode())
    rows = _copy_rows(conn, progress)
    remade = [name for name in indexes if name not in plain_only["index"] and not _exists(conn, name)]
    for name in remade:
        conn.execute(indexes[name].encode())
    for name, (definition, options) in views.items():
        with_options = f" WITH ({', '.join(options)})" if options else ""
        conn.execute(f"CREATE OR REPLACE VIEW {name}{with_options} AS {definition}".encode())
    _copy_grants(conn, "samples_plain", "samples")
    conn.execute("DROP TABLE samples_plain")
    for migration in rest:
        conn.execute(migration.sql.encode())
    _record(conn, variants)
    return Conversion(rows=rows, views=list(views), indexes=remade)


def _named_in(migrations: list[Migration]) -> dict[str, set[str]]:
    """The functions, tables, triggers and indexes the given migrations create, by kind."""
    text = "\n".join(m.sql for m in migrations)
    found = {kind: set(re.findall(rf"CREATE (?:OR REPLACE )?{word} (\w+)", text))
             for kind, word in (("function", "FUNCTION"), ("table", "TABLE"), ("trigger", "TRIGGER"),
                                ("index", "INDEX"))}  # fmt: skip
    found["table"].discard("samples")
    return found


def _drop_plain_objects(conn: psycopg.Connection, names: dict[str, set[str]]) -> None:
    for trigger, table in conn.execute(
        "SELECT t.tgname, t.tgrelid::regclass::text FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgname = ANY (%s)",
        (sorted(names["trigger"]),),
    ).fetchall():
        conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(trigger), sql.SQL(table)))
    for (function,) in conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
        "AND p.proname = ANY (%s)", (sorted(names["function"]),)
    ).fetchall():  # fmt: skip
        conn.execute(sql.SQL("DROP FUNCTION {}").format(sql.SQL(function)))
    for table in sorted(names["table"]):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))


def _views_on(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, list[str]]]:
    """Views reading ``table`` directly: qualified name -> (definition, reloptions), read while the
    name still means the old table."""
    found = conn.execute(
        "SELECT DISTINCT v.oid::regclass::text, pg_get_viewdef(v.oid), coalesce(v.reloptions, '{}') "
        "FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class "
        "WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = %s::regclass AND v.oid <> %s::regclass "
        "AND v.relkind = 'v'", (table, table)
    ).fetchall()  # fmt: skip
    return {name: (definition.rstrip().rstrip(";"), list(options)) for name, definition, options in found}


def _indexes_on(conn: psycopg.Connection, table: str) -> dict[str, str]:
    found = conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass ORDER BY 1", (table,)
    ).fetchall()  # fmt: skip
    return dict(found)


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone() == (True,)


def _copy_rows(conn: psycopg.Connection, progress: Progress | None) -> int:
    """Copy the old table's rows, one partition at a time (the order of time), into the hypertable."""
    columns = sql.SQL(", ").join(
        sql.Identifier(row[0]) for row in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'samples_plain'::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
    )  # fmt: skip
    parts = [row[0] for row in conn.execute(
        "SELECT c.oid::regclass::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'samples_plain'::regclass ORDER BY c.relname"
    ).fetchall()] or ["samples_plain"]  # fmt: skip
    total_row = conn.execute("SELECT count(*) FROM samples_plain").fetchone()
    total = int(total_row[0]) if total_row else 0
    done = 0
    if progress:
        progress(done, total)
    for part in parts:
        cursor = conn.execute(sql.SQL("INSERT INTO samples ({c}) SELECT {c} FROM ONLY {p}").format(
            c=columns, p=sql.SQL(part)))  # fmt: skip
        done += max(cursor.rowcount, 0)
        if progress:
            progress(done, total)
    if done != total:
        raise DatabaseError(f"copied {done} samples of {total}; nothing was changed")
    return done


def _copy_grants(conn: psycopg.Connection, source: str, target: str) -> None:
    """The grants on the old table, on the new one (LIKE copies none)."""
    for privilege, grantee in conn.execute(
        "SELECT a.privilege_type, a.grantee::regrole::text FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = %s::regclass AND a.grantee <> 0 AND a.grantee <> c.relowner", (source,)
    ).fetchall():  # fmt: skip
        conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(privilege), sql.Identifier(target),
                                                              sql.Identifier(grantee)))  # fmt: skip


def _record(conn: psycopg.Connection, variants: dict[str, list[Migration]]) -> None:
    """The ledger lists the timescale variants (those ran now; the plain-only ones are gone) and
    ``schema_flavour`` says converted, so every later migration run takes the TimescaleDB path."""
    conn.execute(LEDGER_SQL)
    conn.execute("DELETE FROM schema_migrations WHERE source = 'collectors' AND variant = 'plain'")
    for m in variants["timescale"]:
        conn.execute(
            "INSERT INTO schema_migrations (source, version, name, variant, checksum) VALUES (%s, %s, %s, %s, %s)",
            (m.source, m.version, m.name, m.variant, m.checksum),
        )
    conn.execute(RECORD_SQL)
    conn.execute("DELETE FROM schema_flavour")
    conn.execute("INSERT INTO schema_flavour (flavour, how) VALUES ('timescale', 'converted from plain PostgreSQL')")
