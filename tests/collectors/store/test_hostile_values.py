"""Hostile values (NUL bytes, huge doubles, giant texts) are stored flagged; they never stop the rest."""

from __future__ import annotations

import struct
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.pipeline import Pipeline
from collectors.samples import BAD_OUT_OF_RANGE, GOOD, UNCERTAIN, Sample, is_good
from collectors.store import SampleStore, refresh_rollups
from collectors.store.rows import PG_EPOCH_US, TEXT_LIMIT_CHARS, EncodedBatch, unix_us
from tests.collectors.store.helpers import plant


def _stored(url: str) -> list[tuple[str, float | None, str | None, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT t.name, s.value, s.text_value, s.status FROM samples s JOIN tags t ON t.id = s.tag_id "
            "ORDER BY s.time"
        ).fetchall()


def _run(url: str, spool: Path, samples: list[Sample], expect_rows: int) -> SampleStore:
    config = plant(2)
    store = SampleStore.for_plant(config, url, spool_dir=spool)
    pipeline = Pipeline(store, config.tags, batch_max_age_s=0.05, report_by_exception=False)
    pipeline.start()
    pipeline.sink(samples)
    deadline = time.monotonic() + 15
    while store.stats.rows_committed < expect_rows and time.monotonic() < deadline:
        time.sleep(0.02)
    pipeline.stop()
    return store


def test_a_nul_byte_is_replaced_and_flagged_and_the_rest_of_the_batch_is_stored(db_url: str, tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(seconds=10)
    store = _run(db_url, tmp_path / "spool", [
        Sample("t0", at, 1.0),
        Sample("batch_code", at + timedelta(milliseconds=1), "LOT\x007"),
        Sample("t1", at + timedelta(milliseconds=2), "12\x00bar"),  # a string for a numeric tag, with a NUL
        Sample("t0", at + timedelta(milliseconds=3), 2.0),
    ], 4)  # fmt: skip
    rows = _stored(db_url)
    assert rows[0] == ("t0", 1.0, None, GOOD) and rows[3] == ("t0", 2.0, None, GOOD)
    assert rows[1] == ("batch_code", None, "LOT\ufffd7", UNCERTAIN)
    assert rows[2][2] == "12\ufffdbar" and not is_good(rows[2][3])
    assert store.stats.batches_quarantined == 0 and store.stats.rows_quarantined == 0
    assert store.stats.database_up
    assert store.encoder.validation.flagged["NUL character replaced"] == 2


def _raw_row(t_us: int, tag_id: int, text: bytes) -> bytes:
    """A binary COPY row with raw text bytes (bypassing the encoder: what a bug or a new database rule would let
    through)."""
    return struct.pack(f"!hiqiiii{len(text)}siqii", 7, 8, t_us - PG_EPOCH_US, 4, tag_id, -1, len(text), text,
                       8, 0, -1, -1)  # fmt: skip


def test_a_batch_the_database_refuses_is_split_so_only_the_bad_row_is_quarantined(db_url: str, tmp_path: Path) -> None:
    store = SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool")
    tag_id = store.encoder.tags["batch_code"].tag_id
    start = unix_us(datetime.now(UTC) - timedelta(seconds=30))
    rows = [_raw_row(start + i, tag_id, b"\xc3\x28" if i == 5 else f"ok{i}".encode()) for i in range(12)]
    store.start()
    store.write_encoded(EncodedBatch(b"".join(rows), len(rows), start, start + 11), uuid.uuid4())
    assert store.flush(20)
    assert store.close()
    texts = [row[2] for row in _stored(db_url)]
    assert texts == [f"ok{i}" for i in range(12) if i != 5]
    assert store.stats.rows_quarantined == 1
    assert len(list((tmp_path / "spool" / "quarantine").glob("*.copy"))) == 1
    # A replay of the same batch (a crash before the spool forgot it) stores nothing twice.
    again = SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool2")
    again.start()
    batch_id = uuid.uuid4()
    for _ in range(2):
        again.write_encoded(EncodedBatch(b"".join(rows), len(rows), start, start + 11), batch_id)
    assert again.flush(20)
    again.close()
    assert len(_stored(db_url)) == 11 + 11


def test_huge_and_non_finite_doubles_are_flagged_and_rollups_keep_working(db_url: str, tmp_path: Path) -> None:
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    store = _run(db_url, tmp_path / "spool", [
        Sample("t0", at, 1e200),
        Sample("t0", at + timedelta(seconds=1), -3e154),
        Sample("t0", at + timedelta(seconds=2), 4.0),
        Sample("t0", at + timedelta(seconds=3), 2.0),
    ], 4)  # fmt: skip
    rows = _stored(db_url)
    assert rows[0] == ("t0", None, "1e+200", BAD_OUT_OF_RANGE)
    assert rows[1] == ("t0", None, "-3e+154", BAD_OUT_OF_RANGE)
    assert store.encoder.validation.flagged["magnitude above 1e+150"] == 2
    refresh_rollups(db_url)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT avg_value, sample_count FROM samples_1m").fetchall() == [(3.0, 2)]


def test_rollups_survive_huge_good_values_already_in_the_table(db_url: str) -> None:
    """Rows stored before the store flagged them (or written by another tool) must not break refreshes forever:
    left out of the rollups on both flavours (tables on plain PostgreSQL, continuous aggregates on TimescaleDB)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 hour', now())")
        tag_id = conn.execute("INSERT INTO tags (name, connection, data_type) "
                              "VALUES ('legacy', 'old', 'float64') RETURNING id").fetchone()[0]
        at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
        for offset, value in enumerate((1e200, 1e200, 5.0, 7.0)):
            conn.execute("INSERT INTO samples (time, tag_id, value, status) VALUES (%s, %s, %s, 0)",
                         (at + timedelta(seconds=offset), tag_id, value))  # fmt: skip
        conn.execute("INSERT INTO store_batches (batch_id, source, rows, first_time, last_time) "
                     "VALUES (%s, 'legacy', 4, %s, %s)", (uuid.uuid4(), at, at + timedelta(seconds=3)))  # fmt: skip
    refresh_rollups(db_url)
    with psycopg.connect(db_url) as conn:
        for rollup in ("samples_1m", "samples_1h"):
            assert conn.execute(f"SELECT avg_value, max_value, sample_count FROM {rollup} WHERE tag_id = %s",
                                (tag_id,)).fetchall() == [(6.0, 7.0, 2)], rollup  # fmt: skip


def test_long_texts_are_truncated_at_the_documented_limit_and_flagged(db_url: str, tmp_path: Path) -> None:
    at = datetime.now(UTC) - timedelta(seconds=10)
    store = _run(db_url, tmp_path / "spool", [
        Sample("batch_code", at, "x" * (TEXT_LIMIT_CHARS * 3)),
        Sample("t0", at + timedelta(milliseconds=1), list(range(100_000))),  # an array for a numeric tag
        Sample("batch_code", at + timedelta(milliseconds=2), "y" * TEXT_LIMIT_CHARS),  # at the limit: kept
    ], 3)  # fmt: skip
    rows = _stored(db_url)
    assert rows[0][2] == "x" * TEXT_LIMIT_CHARS and rows[0][3] == UNCERTAIN
    assert len(rows[1][2]) == TEXT_LIMIT_CHARS and not is_good(rows[1][3])
    assert rows[2] == ("batch_code", None, "y" * TEXT_LIMIT_CHARS, GOOD)
    assert store.encoder.validation.flagged[f"text longer than {TEXT_LIMIT_CHARS} characters truncated"] == 2


def test_an_import_with_huge_values_stores_them_flagged_and_finishes(db_url: str, tmp_path: Path) -> None:
    from collectors.store import import_csv

    moment = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    csv_file = tmp_path / "history.csv"
    csv_file.write_text(f"time,tag,value\n{moment},t0,1e200\n{moment},t1,1.5\n")
    result = import_csv(csv_file, plant(2), db_url)
    assert result.rows_stored == 2 and result.rollup_error == ""
    assert sorted(_stored(db_url), key=lambda row: row[0]) == [
        ("t0", None, "1e+200", BAD_OUT_OF_RANGE), ("t1", 1.5, None, GOOD)]


def test_a_refused_rollup_refresh_is_an_error_and_shows_in_status(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from collectors.metrics import CollectorMetrics, serve_metrics
    from collectors.store import RollupRefresher
    from mes.cli.collect import read_status

    with psycopg.connect(db_url, autocommit=True) as conn:
        if conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]:
            pytest.skip("TimescaleDB refreshes its continuous aggregates itself")
        # A rule the rows cannot meet: the database refuses every refresh that writes a minute.
        conn.execute("ALTER TABLE samples_1m ADD CONSTRAINT never CHECK (sample_count < 0)")
    config = plant(1)
    store = SampleStore.for_plant(config, db_url, spool_dir=tmp_path / "spool")
    pipeline = Pipeline(store, config.tags, batch_max_age_s=0.05, report_by_exception=False)
    pipeline.start()
    pipeline.sink([Sample("t0", datetime.now(UTC) - timedelta(minutes=3), 1.0)])
    deadline = time.monotonic() + 10
    while store.stats.rows_committed < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    refresher = RollupRefresher(db_url, stats=store.stats)
    refresher.refresh_once()
    assert any(r.levelname == "ERROR" and "rollup refresh FAILED" in r.message for r in caplog.records)
    server, port = serve_metrics(CollectorMetrics(pipeline), "127.0.0.1", 0)
    try:
        report = read_status(f"http://127.0.0.1:{port}/metrics")
    finally:
        server.shutdown()
        pipeline.stop()
    assert report["rollup_refresh_failures"] == 1
    assert "CheckViolation" in report["rollup_error"]
