"""Shared fixtures: one embedded PostgreSQL per test session, a
migrated template database, and a fresh database per test cloned from it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings

from collectors.database.embedded import EmbeddedPostgres
from collectors.database.migrations import migrate
from mes import ALL_MIGRATIONS

TEMPLATE = "linebrain_template"

# Property and fuzz tests are deterministic by default: the same examples on every run and machine, so a
# failure reproduces and never blocks an unrelated landing; the falsifying example is printed with the
# blob to replay it. HYPOTHESIS_PROFILE=explore draws fresh random examples (and more of them) for a
# deliberate search (tests that set no max_examples of their own get 500). The API fuzz tests take their
# examples per operation from LINEBRAIN_SCHEMA_EXAMPLES (tests/fuzz.py).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True, deadline=None,
                          max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_data_dir() -> Iterator[Path]:
    """A throw-away data dir for an embedded server, outside pytest's tmp tree: pytest resets
    /tmp/pytest-of-<user> to 0700 whenever a session starts, which would lock out the
    unprivileged user PostgreSQL runs as when the tests run as root."""
    path = Path(tempfile.mkdtemp(prefix="linebrain-test-pg-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    with server_data_dir() as path:
        yield path


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    """The same embedded server the product runs, in a throw-away data dir."""
    with server_data_dir() as data_dir:
        server = EmbeddedPostgres(data_dir, port=free_port())
        server.start()
        yield server
        server.stop()


@pytest.fixture(scope="session")
def template_url(pg_server: EmbeddedPostgres) -> str:
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
    url = pg_server.url(TEMPLATE)
    migrate(url, ALL_MIGRATIONS)
    return url


@pytest.fixture
def db_url(pg_server: EmbeddedPostgres, template_url: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test (cloned from the template: fast)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pg_server.url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    yield pg_server.url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_db_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database with no schema at all."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    admin = pg_server.url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_server.url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _no_ambient_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their database explicitly; a developer's env must not leak in."""
    if "LINEBRAIN_DATABASE_URL" in os.environ:
        monkeypatch.delenv("LINEBRAIN_DATABASE_URL")
