"""The audit log belongs to a role the application cannot become (docs/security.md, "Audit log").

The application connects as the database's owner; if it also owned ``audit_log`` it could disable the
append-only triggers, or drop the table, and rewrite history. These tests log in as the application
role, as the product does."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
import pytest

from collectors.database.embedded import EmbeddedPostgres
from collectors.database.migrations import migrate
from mes import ALL_MIGRATIONS
from mes.auth import audit
from mes.auth.keeper import KEEPER_ROLE, migrate_and_seal
from mes.cli.common import migrate_database

TAMPERING = (
    "UPDATE audit_log SET actor = 'eve'",
    "DELETE FROM audit_log",
    "UPDATE audit.audit_log SET actor = 'eve'",
    "DELETE FROM audit.audit_log",
    "TRUNCATE audit.audit_log",
    "ALTER TABLE audit.audit_log DISABLE TRIGGER audit_log_append_only",
    "ALTER TABLE audit.audit_log DISABLE TRIGGER USER",
    "ALTER TABLE audit.audit_log OWNER TO CURRENT_USER",
    "ALTER TABLE audit.audit_log RENAME TO audit_log_old",
    "ALTER TABLE audit.audit_log SET SCHEMA public",
    "DROP TABLE audit.audit_log",
    "DROP SCHEMA audit CASCADE",
    "DROP FUNCTION audit.audit_log_is_append_only() CASCADE",
    "CREATE OR REPLACE FUNCTION audit.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$",
    f"GRANT {KEEPER_ROLE} TO CURRENT_USER",
    f"SET ROLE {KEEPER_ROLE}",
)


def _as_application(pg_server: object, conn: psycopg.Connection) -> None:
    if not isinstance(pg_server, EmbeddedPostgres):
        pytest.skip("on your own server a superuser hands the audit log to its keeper (docs/security.md)")
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    assert row is not None and not row[0], "the tests log in as the application role, not a superuser"


def _not_refused(conn: psycopg.Connection) -> list[str]:
    """The statements of TAMPERING that were not refused for lack of privilege, with what happened."""
    outcomes = []
    for statement in TAMPERING:
        try:
            with conn.transaction():
                conn.execute(statement)
                outcomes.append(f"{statement}: done")
                raise _Undo
        except psycopg.errors.InsufficientPrivilege:
            pass
        except _Undo:
            pass
        except psycopg.Error as exc:
            outcomes.append(f"{statement}: {type(exc).__name__}")
    return outcomes


class _Undo(Exception):
    """Rolls back a statement that should have been refused, so the next one meets the same table."""


def test_the_application_role_may_append_and_read_but_not_change_or_remove_the_audit_log(
    pg_server: object, db: psycopg.Connection
) -> None:
    _as_application(pg_server, db)
    row_id = audit.record(db, "ann", "counts.adjust", "line:line1/count-adjustment:1", None, {"quantity": 5},
                          "10.0.0.1")  # fmt: skip
    assert _not_refused(db) == []
    [entry] = audit.entries(db, object="line:line1/")
    assert (entry["id"], entry["actor"], entry["after"]) == (row_id, "ann", {"quantity": 5})
    owner = db.execute("SELECT schemaname, tableowner FROM pg_tables WHERE tablename = 'audit_log'").fetchall()
    assert owner == [("audit", KEEPER_ROLE)]


def test_an_existing_database_is_handed_over_at_its_next_migration_and_keeps_its_rows(
    pg_server: object, empty_db_url: str
) -> None:
    migrate(empty_db_url, ALL_MIGRATIONS)  # as every LineBrain before the keeper: the application owns it
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        _as_application(pg_server, conn)
        audit.record(conn, "ann", "orders.plan", "order:1", None, {"quantity": 10}, None)
    assert isinstance(pg_server, EmbeddedPostgres)
    # What every CLI verb does on the embedded server (no URL given): migrate, then the superuser seals.
    migrate_database(empty_db_url, None, pg_server.data_dir)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP VIEW audit_log")  # the application owns public: it may drop the view, not the rows
    migrate_and_seal(empty_db_url, pg_server.admin_url(urlsplit(empty_db_url).path.lstrip("/")))  # view again
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert _not_refused(conn) == []
        assert [entry["object"] for entry in audit.entries(conn)] == ["order:1"]
        audit.record(conn, "bob", "orders.plan", "order:2", None, {"quantity": 20}, None)
        assert len(audit.entries(conn)) == 2
