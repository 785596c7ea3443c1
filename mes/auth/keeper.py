"""The audit log's keeper: a role the application cannot become owns ``audit_log``.

The application connects as the database's owner and runs the migrations. Had it owned
``audit_log`` too, the append-only triggers (mes/sql/0100) would only hold while it chose to keep
them: an owner may ``ALTER TABLE ... DISABLE TRIGGER``, replace the trigger function or drop the
table. So the table and its trigger function belong to ``linebrain_audit``, a role nobody logs in
as, and the application keeps ``SELECT`` and ``INSERT``.

A migration cannot make this hand-over: it runs as the application, and PostgreSQL gives a table
only to a role its owner may become, while a role the application creates (``CREATEROLE``) stays
one it administers, so it could become it again. The superuser makes the keeper and hands the
table over; the embedded server does so after every migration run (``migrate_and_seal``), which
also covers databases created before the keeper. On your own server a superuser runs the same
statements once (docs/security.md).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from collectors.database.migrations import MigrationResult, migrate
from collectors.errors import DatabaseError

KEEPER_ROLE = "linebrain_audit"
_LOCK_KEY = 7_310_442_002  # "linebrain audit keeper": two processes starting at once hand over once


class KeeperCompromised(DatabaseError):
    """The keeper role exists but someone can become it: refusing to give it the audit log."""


def migrate_and_seal(url: str, admin_url: str | None) -> MigrationResult:
    """Apply pending migrations as the application (``url``); then, given the superuser's URL of the
    same database, hand the audit log to its keeper. Without ``admin_url`` (your own server) only
    the migrations run."""
    from mes import ALL_MIGRATIONS

    result = migrate(url, ALL_MIGRATIONS)
    if admin_url:
        seal_audit_log(admin_url)
    return result


def seal_audit_log(admin_url: str) -> None:
    """As the superuser: make the keeper if missing, move ``audit_log`` and its trigger function into
    the keeper's schema ``audit``, leave ``public.audit_log`` as a view of it (the code's name for it),
    and grant the database's owner (the application) ``SELECT, INSERT`` on both. Idempotent."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # The application owns this database and may set its search_path defaults: name everything.
        conn.execute("SET search_path = pg_catalog, pg_temp")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            _ensure_keeper(conn)
            names = {"keeper": sql.Identifier(KEEPER_ROLE), "app": sql.Identifier(_database_owner(conn))}
            for statement in _moved_into_the_keepers_schema(conn) + _HANDED_OVER:
                conn.execute(sql.SQL(statement).format(**names))


def _moved_into_the_keepers_schema(conn: psycopg.Connection) -> list[str]:
    """What is left to do to move the table out of ``public``: its owner (the application) may drop
    anything in ``public``, whoever owns it, so the rows must live in a schema it does not own."""
    if conn.execute("SELECT to_regclass('audit.audit_log')").fetchone() != (None,):
        if conn.execute("SELECT to_regclass('public.audit_log')").fetchone() == (None,):
            return ["CREATE VIEW public.audit_log AS SELECT * FROM audit.audit_log"]  # dropped: made again
        return []
    return [
        "CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION {keeper}",
        "ALTER TABLE public.audit_log SET SCHEMA audit",
        "ALTER FUNCTION public.audit_log_is_append_only() SET SCHEMA audit",
        "CREATE VIEW public.audit_log AS SELECT * FROM audit.audit_log",
    ]


_HANDED_OVER = [
    "ALTER SCHEMA audit OWNER TO {keeper}",
    "ALTER TABLE audit.audit_log OWNER TO {keeper}",
    "ALTER FUNCTION audit.audit_log_is_append_only() OWNER TO {keeper}",
    "ALTER VIEW public.audit_log OWNER TO {keeper}",
    "REVOKE ALL ON audit.audit_log, public.audit_log FROM {app}",
    "GRANT USAGE ON SCHEMA audit TO {app}",
    "GRANT SELECT, INSERT ON audit.audit_log, public.audit_log TO {app}",
]


def _ensure_keeper(conn: psycopg.Connection) -> None:
    """Create the keeper (no login, no members). One that already has a member or an administrator
    — the application could have made it before the superuser did — is refused, not trusted."""
    row = conn.execute("SELECT oid, rolcanlogin OR rolsuper FROM pg_roles WHERE rolname = %s",
                       (KEEPER_ROLE,)).fetchone()  # fmt: skip
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOINHERIT").format(sql.Identifier(KEEPER_ROLE)))
        return
    members = [name for (name,) in conn.execute(
        "SELECT member::regrole::text FROM pg_auth_members WHERE roleid = %s", (row[0],))]  # fmt: skip
    if row[1] or members:
        raise KeeperCompromised(
            f"role {KEEPER_ROLE} can log in or has members ({', '.join(members) or 'login'}): drop it "
            "(it should own nothing but audit_log) and run again; a superuser makes a fresh one"
        )


def _database_owner(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                       "WHERE d.datname = current_database()").fetchone()  # fmt: skip
    assert row is not None
    return str(row[0])
