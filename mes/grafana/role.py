"""The read-only PostgreSQL role Grafana logs in as.

Grafana gets a role that can read the ``grafana`` schema and nothing else:
no rights on the tables behind it, no CREATE anywhere, no temporary tables
(migration 0090), read-only transactions and a 60 s statement timeout by
default, at most ``CONNECTION_LIMIT`` sessions. Any role may SET its own
``default_transaction_read_only`` and ``statement_timeout`` (PostgreSQL has no
privilege for user-level settings), so neither is the guard: privileges keep the
role from writing whatever its session says, and :mod:`mes.grafana.watchdog`
cancels its queries that run past the role's timeout (docs/security.md).

The password is sent as a SCRAM-SHA-256 verifier computed here, so the clear
text never reaches the server (nor its statement log) and is never printed: it
comes from an environment variable, and the datasource file refers to that
variable too.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from collectors.database.credentials import SCRAM_ITERATIONS, scram_verifier

DEFAULT_ROLE = "linebrain_grafana"
PASSWORD_ENV = "LINEBRAIN_GRAFANA_PASSWORD"
WRITER_FUNCTIONS = ("refresh_kpi_hours", "note_changed_period")
CONNECTION_LIMIT = 10  # Grafana pools a handful; a runaway client cannot take the server's 200
READER_SETTINGS = (("default_transaction_read_only", "on"), ("statement_timeout", "60s"))
__all__ = ["SCRAM_ITERATIONS", "ensure_role", "grant_read", "role_exists", "scram_verifier"]


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def ensure_role(conn: psycopg.Connection, role: str, password: str) -> bool:
    """Create the login role (or reset its password) and grant it read access. True when created."""
    if not password:
        raise ValueError("the Grafana role needs a non-empty password")
    created = not role_exists(conn, role)
    verb = "CREATE ROLE" if created else "ALTER ROLE"
    conn.execute(
        sql.SQL("{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT {} PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(CONNECTION_LIMIT), sql.Literal(scram_verifier(password))
        )
    )
    for setting, value in READER_SETTINGS:
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(role), sql.Identifier(setting),
                                                                 sql.Literal(value)))  # fmt: skip
    grant_read(conn, role)
    _let_the_watchdog_see(conn, role)
    return created


def _let_the_watchdog_see(conn: psycopg.Connection, role: str) -> None:
    """Make us a member (INHERIT, not SET) of the reader, so the watchdog, running as us, may see
    and cancel its queries. Harmless: the reader's rights are a subset of ours. A superuser needs none."""
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if row and not row[0]:
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER WITH INHERIT TRUE, SET FALSE").format(sql.Identifier(role)))


def grant_read(conn: psycopg.Connection, role: str) -> None:
    """(Re)grant read access on everything in the grafana schema; run again after migrations add views."""
    ident = sql.Identifier(role)
    statements = [
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(current_database(conn)), ident),
        sql.SQL("GRANT USAGE ON SCHEMA grafana TO {}").format(ident),
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA grafana TO {}").format(ident),
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA grafana TO {}").format(ident),
        # Views added by later migrations (run by this same user) are readable without a re-grant.
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA grafana GRANT SELECT ON TABLES TO {}").format(ident),
    ]
    # Functions that write (the KPI cache's refresh and change notes) stay LineBrain's own.
    for (function,) in conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'grafana' AND p.proname = ANY (%s)", (list(WRITER_FUNCTIONS),)
    ).fetchall():
        statements.append(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM {}").format(sql.SQL(function), ident))
    for statement in statements:
        conn.execute(statement)


def current_database(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_database()").fetchone()
    assert row is not None
    return str(row[0])
