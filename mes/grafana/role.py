"""The read-only PostgreSQL role Grafana logs in as.

Grafana gets a role that can read the ``grafana`` schema and nothing else:
no rights on the tables behind it, no CREATE anywhere, read-only transactions
by default. The password is sent as a SCRAM-SHA-256 verifier computed here, so
the clear text never reaches the server (nor its statement log) and is never
printed: it comes from an environment variable, and the datasource file refers
to that variable too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import psycopg
from psycopg import sql

DEFAULT_ROLE = "linebrain_grafana"
PASSWORD_ENV = "LINEBRAIN_GRAFANA_PASSWORD"
SCRAM_ITERATIONS = 4096
WRITER_FUNCTIONS = ("refresh_kpi_hours", "note_changed_period")


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(hashlib.sha256(client_key).digest()).decode()}:{b64(server_key).decode()}"
    )


def role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def ensure_role(conn: psycopg.Connection, role: str, password: str) -> bool:
    """Create the login role (or reset its password) and grant it read access. True when created."""
    if not password:
        raise ValueError("the Grafana role needs a non-empty password")
    created = not role_exists(conn, role)
    verb = "CREATE ROLE" if created else "ALTER ROLE"
    conn.execute(
        sql.SQL("{} {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(scram_verifier(password))
        )
    )
    for setting, value in (("default_transaction_read_only", "on"), ("statement_timeout", "60s")):
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(role), sql.Identifier(setting),
                                                                 sql.Literal(value)))  # fmt: skip
    grant_read(conn, role)
    return created


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
