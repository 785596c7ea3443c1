"""Migrations: apply to an empty database, then are a no-op; the ledger says what ran."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from collectors.database.migrations import migrate
from mes import ALL_MIGRATIONS


def test_migrations_apply_once_then_are_a_noop(empty_db_url: str) -> None:
    first = migrate(empty_db_url, ALL_MIGRATIONS)
    assert first.applied, "an empty database needs migrations"
    assert first.timescale is False  # the embedded server has no TimescaleDB
    assert all("(any)" in name or "(plain)" in name for name in first.applied)
    second = migrate(empty_db_url, ALL_MIGRATIONS)
    assert second.applied == []
    assert second.warnings == []
    with psycopg.connect(empty_db_url) as conn:
        ledger = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert ledger == len(first.applied)


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
