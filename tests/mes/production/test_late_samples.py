"""Samples that arrive late, into a chunk TimescaleDB has already compressed (a spool replayed
after a long outage, a backfill): they must reach the KPIs and the rollups like any others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.samples import Sample
from collectors.store import SampleStore, refresh_rollups
from mes.production import derive, kpi
from tests.mes.production.scenario import RUNNING, plant

# Ten days ago: inside the retention window, past the 7 days after which chunks are compressed;
# 12:00 UTC is inside the early shift (06:00-14:00 Europe/Berlin), so the hour is planned time.
HOUR = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=10)


def counter(minutes: range) -> list[Sample]:
    """The line running, and its good counter as a collector reads it: 10 more bottles every minute."""
    return [Sample(tag=tag, time=HOUR + timedelta(minutes=m), value=value) for m in minutes
            for tag, value in (("state", float(RUNNING)), ("good", float(10 * m)))]  # fmt: skip


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[SampleStore]:
    store = SampleStore.for_plant(plant(), db_url, spool_dir=tmp_path / "spool")
    store.start()
    yield store
    store.close()


def write(store: SampleStore, samples: list[Sample]) -> None:
    store.write(samples)
    assert store.flush(20)


@pytest.mark.timescaledb_only("only TimescaleDB compresses chunks; plain partitions take late rows as any others")
def test_late_samples_in_a_compressed_chunk_reach_kpis_and_rollups(
    db: psycopg.Connection, db_url: str, store: SampleStore
) -> None:
    derive.run_once(db, plant(), now=HOUR - timedelta(hours=1))
    write(store, counter(range(0, 31)))  # the first half hour; the second is still in an outage spool
    refresh_rollups(db_url)
    # Live data keeps coming, and TimescaleDB's scheduler refreshes the recent past: the aggregates'
    # watermark moves up to now, so real-time aggregation no longer covers ten days ago.
    write(store, [Sample(tag="energy", time=datetime.now(UTC) - timedelta(hours=2), value=1.0)])
    run_refresh_policies(db)
    assert db.execute("SELECT _timescaledb_functions.cagg_watermark(mat_hypertable_id) > 0 "
                      "FROM _timescaledb_catalog.continuous_agg").fetchall() == [(True,), (True,)]  # fmt: skip
    derive.run_once(db, plant(), now=HOUR + timedelta(hours=1))
    assert kpi.period_kpi(db, "line1", HOUR, HOUR + timedelta(hours=1))["gq"] == pytest.approx(300)
    # The hour is closed: mes_kpi reads it from the hour cache until late data marks it changed.
    assert db.execute("SELECT grafana.refresh_kpi_hours(10, %s, %s)", (HOUR, HOUR + timedelta(hours=1))).fetchone()[0]
    assert hour_rollup(db) == (300.0, 31, 300.0)

    compressed = db.execute(
        "SELECT count(compress_chunk(c)) FROM show_chunks('samples', older_than => now() - interval '8 days') c"
    ).fetchone()[0]
    assert compressed >= 1
    assert chunk_of_hour_is_compressed(db)

    write(store, counter(range(31, 60)))  # the spool is replayed: late, into the compressed chunk
    assert db.execute(
        "SELECT count(*) FROM samples s JOIN tags t ON t.id = s.tag_id "
        "WHERE t.name = 'good' AND s.time >= %s AND s.time < %s", (HOUR, HOUR + timedelta(hours=1))
    ).fetchone()[0] == 60  # fmt: skip

    refresh_rollups(db_url)
    derive.run_once(db, plant(), now=HOUR + timedelta(hours=2))
    assert kpi.period_kpi(db, "line1", HOUR, HOUR + timedelta(hours=1))["gq"] == pytest.approx(590)
    db.execute("SELECT grafana.refresh_kpi_hours(10, %s, %s)", (HOUR, HOUR + timedelta(hours=1)))
    assert kpi.period_kpi(db, "line1", HOUR, HOUR + timedelta(hours=1))["gq"] == pytest.approx(590)
    minute = db.execute(
        "SELECT r.avg_value, r.sample_count FROM samples_1m r JOIN tags t ON t.id = r.tag_id "
        "WHERE t.name = 'good' AND r.bucket = %s", (HOUR + timedelta(minutes=45),)
    ).fetchone()  # fmt: skip
    assert minute == (450.0, 1)
    assert hour_rollup(db) == (590.0, 60, 590.0)


def hour_rollup(db: psycopg.Connection) -> tuple | None:
    return db.execute(
        "SELECT r.max_value, r.sample_count, r.last_value FROM samples_1h r JOIN tags t ON t.id = r.tag_id "
        "WHERE t.name = 'good' AND r.bucket = %s", (HOUR,)
    ).fetchone()  # fmt: skip


def run_refresh_policies(db: psycopg.Connection) -> None:
    for (job_id,) in db.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'"
    ).fetchall():
        db.execute("CALL run_job(%s)", (job_id,))


def chunk_of_hour_is_compressed(db: psycopg.Connection) -> bool:
    return bool(db.execute(
        "SELECT is_compressed FROM timescaledb_information.chunks WHERE hypertable_name = 'samples' "
        "AND range_start <= %s AND range_end > %s", (HOUR, HOUR)
    ).fetchone()[0])  # fmt: skip
