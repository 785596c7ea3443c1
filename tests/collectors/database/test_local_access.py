"""Another account on the same host gets nothing from the embedded server: no login without
the password, no reading its passwords, log or data, no replacing its socket."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from collectors.database.embedded import APP_ROLE, SUPERUSER, EmbeddedPostgres
from collectors.errors import DatabaseError
from tests.conftest import free_port
from tests.other_user import OtherUser


def test_another_user_cannot_log_in_without_the_password(pg_server: EmbeddedPostgres, another_user: OtherUser) -> None:
    port = pg_server.status().port
    attempts = [f"postgresql://{role}@127.0.0.1:{port}/{db}" for role in (SUPERUSER, APP_ROLE)
                for db in ("postgres", "linebrain")]  # fmt: skip
    attempts.append(pg_server.url())  # names the password file, which this user cannot read
    attempts.append(make_conninfo(pg_server.url(), password="guess"))
    outcomes = another_user.log_in(*attempts)
    assert "logged in" not in outcomes, outcomes
    assert all("password" in outcome for outcome in outcomes), outcomes


def test_another_user_cannot_use_the_socket(pg_server: EmbeddedPostgres, another_user: OtherUser) -> None:
    socket_dir = pg_server.socket_dir()
    assert socket_dir is not None
    outcome = another_user.log_in(make_conninfo(host=str(socket_dir), port=str(pg_server.status().port),
                                                user=SUPERUSER, dbname="postgres"))  # fmt: skip
    assert outcome != ["logged in"]
    assert "Permission denied" in outcome[0], outcome


def test_another_user_cannot_read_passwords_log_or_data(pg_server: EmbeddedPostgres, another_user: OtherUser) -> None:
    data = pg_server.data_dir
    private = [data / "pgpass", data / "postgres.log", data / "server.json", data / "pgdata" / "PG_VERSION",
               data / "pgdata" / "pg_hba.conf"]  # fmt: skip
    assert all(path.exists() for path in private)
    assert another_user.attempt(*[("read", path) for path in private]) == ["denied"] * len(private)
    assert another_user.attempt(("list", data)) == ["denied"]


def test_another_user_cannot_replace_the_socket(pg_server: EmbeddedPostgres, another_user: OtherUser) -> None:
    socket_dir = pg_server.socket_dir()
    assert socket_dir is not None
    socket_file = socket_dir / f".s.PGSQL.{pg_server.status().port}"
    assert stat.S_ISSOCK(socket_file.stat().st_mode)
    outcomes = another_user.attempt(
        ("unlink", socket_file), ("bind", socket_file), ("create", socket_dir), ("list", socket_dir),
        ("connect-unix", socket_file),
    )  # fmt: skip
    assert outcomes == ["denied"] * 5
    mode = socket_dir.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o700
    assert mode.st_uid != another_user.uid
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:  # and the server is still there
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_only_owner_files_in_the_data_dir(pg_server: EmbeddedPostgres) -> None:
    data = pg_server.data_dir
    for path in (data / "pgpass", data / "postgres.log", data / "server.json", data / ".lock"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (data / "pgdata", pg_server.socket_dir()):
        assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_no_trust_line(pg_server: EmbeddedPostgres) -> None:
    hba = [line.split() for line in (pg_server.pgdata / "pg_hba.conf").read_text().splitlines()
           if line.strip() and not line.startswith("#")]  # fmt: skip
    assert hba and all(line[-1] in ("scram-sha-256", "map=linebrain") for line in hba), hba


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another OS user")
def test_as_root_an_unreachable_data_dir_is_refused_not_opened_up(pg_data_dir: Path) -> None:
    private = pg_data_dir / "private-parent"
    private.mkdir(mode=0o750)  # the service user may not traverse it
    before = {p: p.stat().st_mode for p in [private, *private.parents]}
    with pytest.raises(DatabaseError, match=r"cannot reach .*--data-dir"):
        EmbeddedPostgres(private / "data", port=free_port()).start()
    assert {p: p.stat().st_mode for p in [private, *private.parents]} == before
