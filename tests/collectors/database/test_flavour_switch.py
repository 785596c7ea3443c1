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
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from collectors.database.convert import convert_to_timescale
from collectors.database.embedded import EmbeddedPostgres, timescaledb_installed
from collectors.database.flavour import database_flavour
from collectors.database.migrations import COLLECTORS, migrate
from collectors.errors import DatabaseError
from collectors.store import refresh_rollups
from mes import ALL_MIGRATIONS
from mes.cli import app
from tests.conftest import free_port, server_data_dir
from tests.mes.grafana.plant_data import fill_production, window

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
def plain_era(switching: SwitchingServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Databases created and migrated while the server was plain PostgreSQL: the plant's
    (``linebrain init``'s "linebrain", empty) and one with an hour of plant data to convert."""
    server = switching.as_flavour(timescaledb=False)
    urls = {"plant": server.url()}
    first = migrate(urls["plant"], ALL_MIGRATIONS)
    assert first.timescale is False and first.applied
    urls["filled"] = server.create_database("filled", template="linebrain")  # a copy: faster than migrating
    with psycopg.connect(urls["plant"], autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS schema_flavour")  # as migrated by a LineBrain before the record existed
    fill_plant(urls["filled"], tmp_path_factory.mktemp("spool"))
    return urls


@pytest.fixture(scope="module")
def plant_url(plain_era: dict[str, str]) -> str:
    return plain_era["plant"]


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
        assert "linebrain db convert-to-timescale" in words and "docs/database.md" in words, words


START, END = window(hours=1)
OLD = START - timedelta(days=40)  # another monthly partition, and a chunk the compression policy takes


def fill_plant(url: str, spool_dir: Path) -> None:
    """An hour of the test brewery (orders, 1 s samples, derived states and counts) and a few samples
    40 days old."""
    fill_production(url, START, END, spool_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(%s, %s)", (OLD, OLD))
        conn.execute("INSERT INTO store_batches (batch_id, rows, first_time, last_time) "
                     "VALUES (gen_random_uuid(), 30, %s, %s)", (OLD, OLD + timedelta(seconds=29)))  # fmt: skip
        conn.execute("INSERT INTO samples (time, tag_id, value, status, received_time) "
                     "SELECT %s + n * interval '1 second', t.id, n * 1.5, 0, %s FROM generate_series(0, 29) n, tags t "
                     "WHERE t.name = 'oven_temp'", (OLD, OLD))  # fmt: skip
    refresh_rollups(url)


def snapshot(url: str) -> dict[str, object]:
    """What the plant reads: every sample (hashed), both rollups, the line's KPIs and a tag's values
    from the minute and hour rollups. Averages to 9 significant digits: plain PostgreSQL averages
    an hour from its minutes, TimescaleDB from the samples."""
    def rounded(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return [tuple(float(f"{v:.9g}") if isinstance(v, float) else v for v in row) for row in rows]

    with psycopg.connect(url) as conn:
        figures: dict[str, object] = {
            "samples": conn.execute("SELECT count(*), md5(string_agg(s::text, ',' ORDER BY s.tag_id, s.time)) "
                                    "FROM samples s").fetchone(),
            "kpi": rounded(conn.execute("SELECT * FROM grafana.kpi('line1', %s, %s)", (START, END)).fetchall()),
        }
        for rollup in ("samples_1m", "samples_1h"):
            figures[rollup] = rounded(conn.execute(
                f"SELECT bucket, tag_id, min_value, max_value, avg_value, last_value, last_time, sample_count "
                f"FROM {rollup} ORDER BY 1, 2").fetchall())  # fmt: skip
        for bucket_ms in (60_000, 3_600_000):
            figures[f"tag_values {bucket_ms}"] = rounded(conn.execute(
                "SELECT * FROM grafana.tag_values(ARRAY['oven_temp', 'filler_speed'], %s, %s, %s)",
                (OLD - timedelta(hours=1), END, bucket_ms)).fetchall())  # fmt: skip
    return figures


def catalog(url: str, names: set[str] | None = None) -> set[tuple[str, ...]]:
    """The collectors' schema as the migrations make it: relations and their kinds, functions and
    their bodies, triggers, the indexes of samples, TimescaleDB's jobs; ``names`` limits it."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT 'relation', c.relname, c.relkind::text FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') "
            "UNION ALL SELECT 'function', p.proname, pg_get_function_identity_arguments(p.oid) || md5(p.prosrc) "
            "FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace "
            "UNION ALL SELECT 'trigger', t.tgname, t.tgrelid::regclass::text FROM pg_trigger t "
            "WHERE NOT t.tgisinternal "
            "UNION ALL SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = 'samples' "
            "UNION ALL SELECT 'job', j.proc_name, coalesce(ca.view_name, j.hypertable_name) "
            "FROM timescaledb_information.jobs j LEFT JOIN timescaledb_information.continuous_aggregates ca "
            "ON ca.materialization_hypertable_name = j.hypertable_name WHERE j.hypertable_name IS NOT NULL"
        ).fetchall()  # fmt: skip
    found = {tuple(str(v) for v in row) for row in rows}
    return found if names is None else {row for row in found if row[1] in names}


def test_convert_to_timescale_keeps_every_sample_rollup_and_kpi(
    switching: SwitchingServer, plain_era: dict[str, str], hyper_url: str
) -> None:
    url = plain_era["filled"]
    switching.as_flavour(timescaledb=True)
    before = snapshot(url)
    assert before["samples"][0] > 18_000 and before["kpi"] and before["samples_1h"]  # type: ignore[index]
    converted = CliRunner().invoke(app, ["db", "convert-to-timescale", "--yes", "--database-url", url])
    assert converted.exit_code == 0, converted.output
    words = " ".join(converted.output.split())
    assert "grafana.tag_latest" in words and "samples_not_good" in words and "TimescaleDB 2." in words, words
    after = snapshot(url)
    assert after == before
    fresh = catalog(hyper_url)
    assert catalog(url, {row[1] for row in fresh}) == fresh  # what a database made on TimescaleDB has
    with psycopg.connect(url) as conn:
        leftovers = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 'samples\\_%%' "
                                 "AND relname ~ '(plain|brin|_[0-9]{4}_[0-9]{2})$'").fetchall()  # fmt: skip
        ledger = conn.execute("SELECT DISTINCT variant FROM schema_migrations").fetchall()
    assert leftovers == [] and sorted(ledger) == [("any",), ("timescale",)]
    again = migrate(url, ALL_MIGRATIONS)
    assert again.timescale is True and again.applied == [] and again.warnings == []


@pytest.fixture(scope="module")
def hyper_url(switching: SwitchingServer) -> str:
    """A database created on TimescaleDB (the collectors' migrations only)."""
    url = switching.as_flavour(timescaledb=True).create_database("hyper")
    assert migrate(url, [COLLECTORS]).timescale is True
    return url


def test_a_timescaledb_database_on_a_server_without_the_preload_says_what_to_do(
    switching: SwitchingServer, hyper_url: str
) -> None:
    url = hyper_url
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
    stats = CliRunner().invoke(app, ["db", "stats", "--database-url", url])
    assert stats.exit_code == 1 and "NOT USABLE" in stats.output, stats.output
    with pytest.raises(DatabaseError, match="already a TimescaleDB database"):
        convert_to_timescale(url)


def test_conversion_needs_a_server_that_runs_timescaledb(switching: SwitchingServer, plant_url: str) -> None:
    switching.as_flavour(timescaledb=False)
    with pytest.raises(DatabaseError, match=r"the server does not run TimescaleDB .*installed but not preloaded"):
        convert_to_timescale(plant_url)
    with psycopg.connect(plant_url) as conn:
        assert conn.execute("SELECT flavour FROM schema_flavour").fetchall() == [("plain",)]

