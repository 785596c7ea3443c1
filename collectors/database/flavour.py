"""Which flavour a database runs — TimescaleDB or plain PostgreSQL — and why.

The flavour is a fact of the *database*, not of the server it happens to run on:
its tables are hypertables and continuous aggregates, or partitions and rollup
tables, and no later migration can change that by itself. So it is chosen once,
when a database is first migrated (TimescaleDB when the server offers it
installed and preloaded), recorded in ``schema_flavour``, and every later
migration run follows the record (``settle_flavour``). A database migrated
before the record existed has it inferred from its ledger: which ``*.plain.sql``
or ``*.timescale.sql`` migrations it applied.

So a plant that ran ``linebrain init`` on plain PostgreSQL and installs
TimescaleDB later keeps a working plain database (``linebrain db status`` and
``db stats`` say that it could be converted, and how: ``convert.py``); a
TimescaleDB database on a server that lost the preload stops with a message
saying what to do instead of a cryptic SQL error.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from collectors.errors import DatabaseError

# Whether the server preloads TimescaleDB, as any role can tell: the loader library defines its
# postmaster-level settings (``timescaledb.bgw_launcher_poll_time``) only when it is in
# ``shared_preload_libraries`` — a setting only superusers and ``pg_read_all_settings`` may read
# (``pg_settings`` hides it from LineBrain's own role instead of raising).
PRELOADED_SQL = (
    "(EXISTS (SELECT 1 FROM pg_settings WHERE name = 'timescaledb.bgw_launcher_poll_time')"
    " OR EXISTS (SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries' AND setting LIKE '%timescaledb%'))"
)

# One row: the database's flavour, written once by the first migration run (or by a conversion).
RECORD_SQL = """
CREATE TABLE IF NOT EXISTS schema_flavour (
    one_row     boolean     PRIMARY KEY DEFAULT true CHECK (one_row),
    flavour     text        NOT NULL CHECK (flavour IN ('timescale', 'plain')),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    how         text        NOT NULL
)
"""

CONVERT_HINT = "run linebrain db convert-to-timescale, see docs/database.md"


@dataclass(frozen=True)
class ServerOffer:
    """What the server offers, whatever the database is."""

    available: str | None  # TimescaleDB's default version installed on the server
    preloaded: bool

    @property
    def timescaledb(self) -> bool:
        return self.available is not None and self.preloaded


def server_offer(conn: psycopg.Connection) -> ServerOffer:
    row = conn.execute(
        f"SELECT (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'), {PRELOADED_SQL}"
    ).fetchone()
    return ServerOffer(str(row[0]) if row and row[0] else None, bool(row and row[1]))


def recorded_timescale(conn: psycopg.Connection) -> bool | None:
    """The database's own flavour (True: TimescaleDB): its record, else what its ledger applied;
    None for a database never migrated."""
    row = conn.execute(
        "SELECT to_regclass('schema_flavour') IS NOT NULL, to_regclass('schema_migrations') IS NOT NULL"
    ).fetchone()
    has_record, has_ledger = row if row else (False, False)
    if has_record:
        recorded = conn.execute("SELECT flavour FROM schema_flavour").fetchone()
        if recorded:
            return bool(recorded[0] == "timescale")
    if not has_ledger:
        return None
    variants = {r[0] for r in conn.execute("SELECT DISTINCT variant FROM schema_migrations WHERE variant <> 'any'")}
    if len(variants) > 1:
        raise DatabaseError(
            "schema_migrations holds both plain and timescale migrations and schema_flavour says nothing: "
            "this database's flavour is unknown; record it with INSERT INTO schema_flavour (flavour, how) "
            "VALUES ('plain' or 'timescale', 'by hand') after checking whether samples is a hypertable"
        )
    return ("timescale" in variants) if variants else None


def database_timescale(conn: psycopg.Connection) -> bool:
    """Whether migrations give this database the TimescaleDB variants: its own flavour when it has
    one; a new database's is TimescaleDB when the server offers it installed and preloaded."""
    own = recorded_timescale(conn)
    return server_offer(conn).timescaledb if own is None else own


def settle_flavour(conn: psycopg.Connection) -> bool:
    """The flavour the migrations follow (True: TimescaleDB), recorded in the database the first time.

    Call under the migration lock, before any DDL: in a TimescaleDB database on a server that does
    not preload it, DDL fires the extension's event triggers, which end the session ("extension
    timescaledb must be preloaded", FATAL). So that case is found with reads only and raised first."""
    own = recorded_timescale(conn)
    offer = server_offer(conn)
    if own is None:
        timescale, how = offer.timescaledb, "new database: " + _offer_text(offer)
    else:
        timescale, how = own, "inferred from the applied migrations"
    if timescale and not offer.timescaledb:
        raise DatabaseError(not_runnable(offer, _database(conn)))
    conn.execute(RECORD_SQL)
    conn.execute(
        "INSERT INTO schema_flavour (flavour, how) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        ("timescale" if timescale else "plain", how),
    )
    return timescale


def not_runnable(offer: ServerOffer, database: str) -> str:
    """What to do when a TimescaleDB database sits on a server without (preloaded) TimescaleDB."""
    missing = "is not installed on" if offer.available is None else "is not in shared_preload_libraries of"
    return (
        f"database {database} is a TimescaleDB database (hypertables, continuous aggregates) but TimescaleDB "
        f"{missing} its server, so it cannot be used. Install TimescaleDB into the server, add "
        "shared_preload_libraries = 'timescaledb' to postgresql.conf and restart it (the embedded server "
        "preloads it by itself once installed: ../shared/tools/timescaledb-build, then linebrain db stop and "
        "linebrain db start). A TimescaleDB database does not run as plain PostgreSQL."
    )


def _offer_text(offer: ServerOffer) -> str:
    if offer.available is None:
        return "TimescaleDB is not installed on the server"
    if not offer.preloaded:
        return f"TimescaleDB {offer.available} is installed but not in shared_preload_libraries"
    return f"the server offers TimescaleDB {offer.available}"


def _database(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else "?"


@dataclass(frozen=True)
class Flavour:
    timescaledb: bool
    version: str | None  # the extension's version in this database, when created
    note: str  # on plain PostgreSQL: why not TimescaleDB; on TimescaleDB: what is wrong, if anything

    @property
    def label(self) -> str:
        name = f"TimescaleDB {self.version}" if self.timescaledb else "plain PostgreSQL"
        return f"{name} ({self.note})" if self.note else name


def database_flavour(conn: psycopg.Connection) -> Flavour:
    """The flavour of the database ``conn`` is connected to, and what the server offers beside it."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    created = str(row[0]) if row else None
    own = recorded_timescale(conn)
    offer = server_offer(conn)
    if own is True or (own is None and created):
        trouble = "" if offer.timescaledb else "NOT USABLE: " + not_runnable(offer, _database(conn))
        return Flavour(True, created, trouble)
    if own is None:
        return Flavour(False, None, _offer_text(offer) + "; the schema is not migrated yet")
    if offer.timescaledb:
        return Flavour(False, None, f"created so; the server offers TimescaleDB {offer.available}: to convert, "
                                    + CONVERT_HINT)  # fmt: skip
    return Flavour(False, None, _offer_text(offer))
