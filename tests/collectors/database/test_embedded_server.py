"""The embedded PostgreSQL: starts, keeps its data across restarts, stops, is shared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.conftest import free_port, own_server


def test_start_restart_keeps_data_and_stop(pg_data_dir: Path) -> None:
    server = own_server(pg_data_dir / "data")
    status = server.start()
    assert status.running
    try:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v int)")
            conn.execute("INSERT INTO kept VALUES (42)")
            for ext in ("btree_gist", "ltree"):
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")
        assert server.stop() is True
        assert not server.status().running
        assert server.stop() is False

        again = server.start()
        assert again.running and again.pid != status.pid
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
    finally:
        server.stop()


def test_second_process_joins_the_running_server(pg_data_dir: Path) -> None:
    data_dir = pg_data_dir / "shared"
    first = own_server(data_dir)
    pid = first.start().pid
    try:
        code = (
            "from collectors.database.embedded import EmbeddedPostgres;"
            f"s = EmbeddedPostgres({str(data_dir)!r}).start(); print(s.pid, s.url())"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        other_pid, url = out.stdout.split()
        assert int(other_pid) == pid
        assert url == first.url()
    finally:
        first.stop()


def test_timescaledb_is_preloaded_exactly_when_installed(pg_data_dir: Path) -> None:
    """No flavour asked for (what `linebrain` does): TimescaleDB when installed, else plain, and said so.

    TimescaleDB is a trusted extension: the application role (no superuser, and unable to read
    shared_preload_libraries) sees that it is preloaded and creates it in its first migration."""
    from typer.testing import CliRunner

    from collectors.database.embedded import EmbeddedPostgres, timescaledb_installed
    from collectors.database.migrations import migrate
    from mes.cli import app

    server = EmbeddedPostgres(pg_data_dir / "auto", port=free_port())
    server.start()
    try:
        migrated = migrate(server.url())
        with psycopg.connect(server.admin_url()) as conn:  # pg_read_all_settings: the superuser
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
            trusted = conn.execute("SELECT trusted FROM pg_available_extension_versions "
                                   "WHERE name = 'timescaledb'").fetchall()  # fmt: skip
        with psycopg.connect(server.url()) as conn:
            owner = conn.execute("SELECT extowner::regrole::text FROM pg_extension "
                                 "WHERE extname = 'timescaledb'").fetchall()  # fmt: skip
            superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
        status = CliRunner().invoke(app, ["db", "status", "--data-dir", str(pg_data_dir / "auto")])
    finally:
        server.stop()
    installed = timescaledb_installed()
    assert ("timescaledb" in preload) is installed and migrated.timescale is installed
    assert superuser is False and trusted == ([(True,)] if installed else [])
    assert owner == ([("linebrain",)] if installed else [])
    assert status.exit_code == 0, status.output
    words = " ".join(status.output.split())
    assert ("TimescaleDB 2." in words and "plain" not in words) if installed else "plain PostgreSQL" in words


def test_rotate_passwords_keeps_open_connections_and_locks_out_the_old_password(pg_data_dir: Path) -> None:
    from typer.testing import CliRunner

    from collectors.database.credentials import read_passfile
    from mes.cli import app

    server = own_server(pg_data_dir / "rotate")
    server.start()
    try:
        old = read_passfile(server.passfile).by_role
        with psycopg.connect(server.url(), autocommit=True) as open_before:
            result = CliRunner().invoke(app, ["db", "rotate-passwords", "--data-dir", str(server.data_dir)])
            assert result.exit_code == 0, result.output
            assert open_before.execute("SELECT 1").fetchone() == (1,)
        new = read_passfile(server.passfile).by_role
        assert new.keys() == old.keys() and all(new[role] != old[role] for role in old)
        assert not any(password in result.output for password in [*old.values(), *new.values()])
        for role, password in old.items():
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(make_conninfo(server.url(), user=role, password=password, passfile=""))
        with psycopg.connect(server.url()) as conn, psycopg.connect(server.admin_url()) as admin:
            assert conn.execute("SELECT current_user").fetchone() == ("linebrain",)
            assert admin.execute("SELECT current_user").fetchone() == ("postgres",)
    finally:
        server.stop()
