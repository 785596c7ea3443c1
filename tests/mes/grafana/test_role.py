"""Grafana's role reads the grafana schema and nothing else, and can write nothing."""

from __future__ import annotations

import psycopg
import pytest

from mes.grafana.role import scram_verifier
from tests.mes.grafana.conftest import GrafanaDatabase

WRITES = [
    "INSERT INTO tags (name, connection, data_type) VALUES ('x', 'c', 'int16')",
    "UPDATE tags SET unit = 'x'",
    "DELETE FROM samples",
    "CREATE TABLE public.grafana_was_here (id int)",
    "CREATE TABLE grafana.grafana_was_here (id int)",
    "CREATE VIEW grafana.grafana_was_here AS SELECT 1",
    "TRUNCATE store_batches",
    "SELECT * FROM samples LIMIT 1",
    "SELECT grafana.refresh_kpi_hours()",
    "INSERT INTO grafana.kpi_dirty (period) VALUES (tstzrange(now(), now() + interval '1 h'))",
]


@pytest.mark.parametrize("statement", WRITES)
def test_the_role_cannot_write_or_read_base_tables_even_outside_read_only_mode(
    statement: str, grafana_db: GrafanaDatabase
) -> None:
    with psycopg.connect(grafana_db.reader_url, autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        conn.execute("SET default_transaction_read_only = off")  # privileges must hold on their own
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute(statement)


def test_the_role_reads_every_grafana_view(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.url, autocommit=True) as owner:
        views = [row[0] for row in owner.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'grafana' ORDER BY 1")]  # fmt: skip
    assert views
    with psycopg.connect(grafana_db.reader_url, autocommit=True) as conn:
        for view in views:
            conn.execute(f'SELECT * FROM grafana."{view}" LIMIT 1').fetchall()


def test_the_password_is_stored_as_the_scram_verifier_postgresql_would_compute(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.admin_url, autocommit=True) as conn:  # pg_authid: superuser only
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute("CREATE ROLE scram_probe PASSWORD 'pässwort 1'")
        try:
            stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'").fetchone()[0]
            ours = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (grafana_db.role,)).fetchone()
        finally:
            conn.execute("DROP ROLE scram_probe")
    import base64

    iterations, salt = stored.split("$")[1].split(":")
    assert scram_verifier("pässwort 1", base64.b64decode(salt), int(iterations)) == stored
    assert ours[0].startswith("SCRAM-SHA-256$") and "test-password" not in ours[0]
