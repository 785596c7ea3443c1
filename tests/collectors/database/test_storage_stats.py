"""How the samples are stored, as `linebrain db stats` reports it, on both flavours."""

from __future__ import annotations

import psycopg
from typer.testing import CliRunner

from collectors.database.flavour import Flavour
from collectors.database.storage_stats import storage_stats
from mes.cli import app

# One day of 1 s samples of two slowly varying tags, ten days ago (older than compress_after_days), received
# 50 ms later, in the store's layout (collectors/store/rows.py: the receive time as a delay in ms).
DAY_OF_SAMPLES = """
INSERT INTO samples (time, tag_id, value, status, receive_delay_ms)
SELECT date_trunc('day', now()) - interval '10 days' + make_interval(secs => s), tag, round(s / 600.0), 0, 50
FROM generate_series(0, 86399) s, generate_series(1, 2) tag
"""
ROWS = 2 * 86_400


def fill(db: psycopg.Connection, flavour: Flavour) -> None:
    db.execute("SELECT ensure_sample_partitions(now() - interval '11 days', now())")
    db.execute(DAY_OF_SAMPLES)
    if flavour.timescaledb:
        db.execute("SELECT compress_chunk(c) FROM show_chunks('samples') c")
    db.execute("ANALYZE samples")


def test_stats_count_chunks_rows_and_bytes_per_sample(db: psycopg.Connection, flavour: Flavour) -> None:
    fill(db, flavour)
    stats = storage_stats(db)
    assert stats.flavour == flavour.label
    assert stats.rows == ROWS  # exact here: ANALYZE read every row, compression counted them
    assert stats.bytes_per_sample is not None and stats.bytes_per_sample * ROWS == stats.total_bytes
    if flavour.timescaledb:
        # 6-hour chunks: the day ten days ago spans 4 of them, all compressed.
        assert stats.chunks == stats.compressed_chunks == 4
        assert stats.compressed_rows == ROWS
        assert stats.compression_ratio is not None and stats.compression_ratio > 10
        assert stats.compressed_bytes_per_sample is not None and stats.compressed_bytes_per_sample < 5
    else:
        # Monthly partitions from ten days ago to now: one or two months, none compressed.
        assert stats.chunks in (1, 2) and stats.compressed_chunks == 0
        assert stats.compression_ratio is None and stats.bytes_per_sample > 40


def test_db_stats_command_prints_them(db: psycopg.Connection, db_url: str, flavour: Flavour) -> None:
    fill(db, flavour)
    result = CliRunner().invoke(app, ["db", "stats", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # as the terminal's width wrapped it
    assert flavour.label in output
    assert "samples ≈ 172,800" in output and "bytes per sample" in output
    assert ("ratio" in output) is flavour.timescaledb
