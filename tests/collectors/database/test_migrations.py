"""Migrations: apply to an empty database, then are a no-op; the ledger says what ran."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.config.models import Storage
from collectors.database.flavour import Flavour
from collectors.database.migrations import migrate
from collectors.store import configure_storage
from mes import ALL_MIGRATIONS


def test_migrations_apply_once_then_are_a_noop(empty_db_url: str, flavour: Flavour) -> None:
    first = migrate(empty_db_url, ALL_MIGRATIONS)
    assert first.applied, "an empty database needs migrations"
    assert first.timescale is flavour.timescaledb  # the server's flavour decides the variants
    variant = "(timescale)" if flavour.timescaledb else "(plain)"
    assert all("(any)" in name or variant in name for name in first.applied)
    assert any(variant in name for name in first.applied)
    second = migrate(empty_db_url, ALL_MIGRATIONS)
    assert second.applied == []
    assert second.warnings == []
    with psycopg.connect(empty_db_url) as conn:
        ledger = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert ledger == len(first.applied)


@pytest.mark.plain_only("monthly partitions are plain PostgreSQL's; TimescaleDB makes its chunks itself")
def test_samples_are_partitioned_by_month_on_demand(db: psycopg.Connection) -> None:
    created = db.execute(
        "SELECT ensure_sample_partitions(%s, %s)",
        (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)),
    ).fetchone()[0]
    assert created == 3
    again = db.execute(
        "SELECT ensure_sample_partitions(%s, %s)",
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)),
    ).fetchone()[0]
    assert again == 0
    db.execute("INSERT INTO samples (time, tag_id, value) VALUES ('2026-02-10T00:00:00Z', 1, 1.5)")
    parts = db.execute(
        "SELECT tableoid::regclass::text FROM samples"
    ).fetchall()
    assert parts == [("samples_2026_02",)]


@pytest.mark.plain_only("TimescaleDB drops chunks by its retention policy job (tested below)")
def test_retention_drops_only_old_partitions(db: psycopg.Connection) -> None:
    now = datetime.now(UTC)
    db.execute("SELECT ensure_sample_partitions(%s, %s)", (datetime(2020, 1, 1, tzinfo=UTC), now))
    dropped = db.execute("SELECT apply_sample_retention(%s)", (365,)).fetchone()[0]
    assert dropped > 0
    remaining = [r[0] for r in db.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'samples'::regclass ORDER BY 1"
    )]
    assert f"samples_{now:%Y_%m}" in remaining
    assert "samples_2020_01" not in remaining


def policy(db: psycopg.Connection, proc: str, table: str) -> dict | None:
    row = db.execute(
        "SELECT j.config FROM timescaledb_information.jobs j WHERE j.proc_name = %s AND j.hypertable_name = %s",
        (proc, table),
    ).fetchone()
    return row[0] if row else None


def chunk_interval(db: psycopg.Connection) -> timedelta:
    return db.execute(
        "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'samples'"
    ).fetchone()[0]


@pytest.mark.timescaledb_only("hypertables, compression and policies exist only on TimescaleDB")
def test_samples_is_a_compressed_hypertable_with_policies(db: psycopg.Connection) -> None:
    assert chunk_interval(db) == timedelta(hours=6)  # 25 M rows at the default 1,000 samples/s
    settings = dict(db.execute(
        "SELECT attname, coalesce(segmentby_column_index, 0) > 0 FROM timescaledb_information.compression_settings "
        "WHERE hypertable_name = 'samples'"
    ).fetchall())  # fmt: skip
    assert settings == {"tag_id": True, "time": False}  # segment by tag, order by time
    assert policy(db, "policy_compression", "samples") == {"hypertable_id": 1, "compress_after": "7 days"}
    views = dict(db.execute(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
    ).fetchall())  # fmt: skip
    assert views == {"samples_1m": False, "samples_1h": False}  # real-time aggregation on
    refresh = db.execute(
        "SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'"
    ).fetchone()[0]
    assert refresh == 2


@pytest.mark.timescaledb_only("chunk interval, compression and retention policies exist only on TimescaleDB")
def test_storage_settings_from_the_config_set_chunk_interval_and_policies(db: psycopg.Connection, db_url: str) -> None:
    configure_storage(db_url, Storage(retention_days=90, compress_after_days=2, expected_samples_per_second=10_000))
    assert chunk_interval(db) == timedelta(hours=1)
    assert policy(db, "policy_compression", "samples")["compress_after"] == "2 days"
    assert policy(db, "policy_retention", "samples")["drop_after"] == "90 days"
    configure_storage(db_url, Storage(expected_samples_per_second=100))
    assert chunk_interval(db) == timedelta(days=2)  # 100/s × 3 days would be 25.9 M rows
    assert policy(db, "policy_retention", "samples")["drop_after"] == "365 days"


@pytest.mark.timescaledb_only("plain PostgreSQL has monthly partitions whatever the rate")
def test_chunk_interval_follows_the_expected_rate(db: psycopg.Connection) -> None:
    """25 M rows a chunk at most, in steps that divide a day (or whole days), from 1 hour to 7 days."""
    expected = {1: timedelta(days=7), 100: timedelta(days=2), 500: timedelta(hours=12), 1000: timedelta(hours=6),
                2000: timedelta(hours=3), 6000: timedelta(hours=1), 50_000: timedelta(hours=1)}  # fmt: skip
    got = {rate: db.execute("SELECT sample_chunk_interval(%s)", (rate,)).fetchone()[0] for rate in expected}
    assert got == expected
