"""A database keeps its flavour when its server's changes.

The plant's upgrade path: ``linebrain init`` on plain PostgreSQL, TimescaleDB installed into the
server (and preloaded) later; the database stays plain and keeps migrating. The opposite — a
TimescaleDB database on a server that lost the preload — stops with a message saying what to do.

One embedded server, restarted with and without ``shared_preload_libraries=timescaledb``; so the
extension must be installed into it (scripts/test builds it with ../shared/tools/timescaledb-build).
It is not a ``database`` test: it runs its own server whatever ``LINEBRAIN_TEST_FLAVOUR`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.database.embedded import EmbeddedPostgres, timescaledb_installed
from collectors.database.flavour import database_flavour
from collectors.database.migrations import COLLECTORS, migrate
from collectors.errors import DatabaseError
from mes import ALL_MIGRATIONS
from tests.conftest import free_port, server_data_dir

pytestmark = pytest.mark.skipif(
    not timescaledb_installed(),
    reason="switching a server's flavour needs TimescaleDB installed into the embedded PostgreSQL "
    "(scripts/test builds it with ../shared/tools/timescaledb-build)",
)


class SwitchingServer:
    """An embedded server that is restarted with the flavour a test asks for."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.server: EmbeddedPostgres | None = None

    def as_flavour(self, timescaledb: bool) -> EmbeddedPostgres:
        if self.server is not None and self.server.timescaledb == timescaledb:
            return self.server
        self.stop()
        self.server = EmbeddedPostgres(self.data_dir, port=self.port, timescaledb=timescaledb)
        self.server.start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module")
def switching() -> Iterator[SwitchingServer]:
    with server_data_dir() as data_dir:
        switching = SwitchingServer(data_dir)
        try:
            yield switching
        finally:
            switching.stop()


@pytest.fixture(scope="module")
def plant_url(switching: SwitchingServer) -> str:
    """The plant's database: created and migrated while the server was plain PostgreSQL."""
    url = switching.as_flavour(timescaledb=False).url()  # `linebrain init`'s database, "linebrain"
    first = migrate(url, ALL_MIGRATIONS)
    assert first.timescale is False and first.applied
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS schema_flavour")  # as migrated by a LineBrain before the record existed
    return url


def test_a_plain_database_keeps_migrating_after_timescaledb_is_preloaded(
    switching: SwitchingServer, plant_url: str
) -> None:
    switching.as_flavour(timescaledb=True)
    again = migrate(plant_url, ALL_MIGRATIONS)  # failed: 0021 (TimescaleDB) on plain rollup tables
    assert again.timescale is False
    assert again.applied == [] and again.warnings == []
    with psycopg.connect(plant_url) as conn:
        variants = {row[0] for row in conn.execute("SELECT DISTINCT variant FROM schema_migrations")}
        extension = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        record = conn.execute("SELECT flavour, how FROM schema_flavour").fetchall()
    assert variants == {"any", "plain"}
    assert extension == (0,)
    assert record == [("plain", "inferred from the applied migrations")]


def test_status_and_stats_say_the_database_is_plain_and_how_to_convert(
    switching: SwitchingServer, plant_url: str
) -> None:
    from typer.testing import CliRunner

    from mes.cli import app
    from mes.health import pending_migrations

    switching.as_flavour(timescaledb=True)
    migrate(plant_url, ALL_MIGRATIONS)
    with psycopg.connect(plant_url) as conn:
        assert pending_migrations(conn, ALL_MIGRATIONS) == []  # /readyz: ready, not "0021 pending"
    runner = CliRunner()
    status = runner.invoke(app, ["db", "status", "--data-dir", str(switching.data_dir)])
    stats = runner.invoke(app, ["db", "stats", "--database-url", plant_url])
    assert status.exit_code == 0 and stats.exit_code == 0, status.output + stats.output
    for output in (status.output, stats.output):
        words = " ".join(output.split())
        assert "plain PostgreSQL" in words and "the server offers TimescaleDB 2." in words, words
        assert "Converting a plain database to TimescaleDB" in words and "docs/database.md" in words, words


def test_a_timescaledb_database_on_a_server_without_the_preload_says_what_to_do(switching: SwitchingServer) -> None:
    url = switching.as_flavour(timescaledb=True).create_database("hyper")
    assert migrate(url, [COLLECTORS]).timescale is True
    switching.as_flavour(timescaledb=False)
    with pytest.raises(DatabaseError) as failed:
        migrate(url, ALL_MIGRATIONS)
    message = " ".join(str(failed.value).split())
    assert "is a TimescaleDB database" in message, message
    assert "shared_preload_libraries = 'timescaledb'" in message and "restart" in message, message
    with psycopg.connect(url) as conn:
        applied = conn.execute("SELECT count(*) FROM schema_migrations WHERE source <> 'collectors'").fetchone()
        label = database_flavour(conn).label
    assert applied == (0,)  # stopped before any migration, not half-way through one
    assert label.startswith("TimescaleDB 2.") and "NOT USABLE" in label, label
