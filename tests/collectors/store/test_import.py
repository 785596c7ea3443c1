"""CSV import: the same exactly-once path; re-importing a file stores nothing twice."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.database.flavour import Flavour
from collectors.store import import_csv
from tests.collectors.store.helpers import counts_per_tag, plant


def _csv(path: Path, rows: int) -> Path:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    lines = ["time,tag,value,quality"]
    for i in range(rows):
        lines.append(f"{(start + timedelta(seconds=i)).isoformat()},t{i % 2},{i * 0.5},good")
    lines.append(f"{start.isoformat()},batch_code,LOT-42,")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_loads_every_row_once_and_a_rerun_skips_it(db_url: str, tmp_path: Path) -> None:
    source = _csv(tmp_path / "history.csv", 5000)
    first = import_csv(source, plant(2), db_url, batch_rows=1000)
    assert (first.rows_read, first.rows_stored, first.rows_rejected) == (5001, 5001, 0)
    again = import_csv(source, plant(2), db_url, batch_rows=1000)
    assert again.rows_stored == 0 and again.rows_already_stored == 5001
    assert counts_per_tag(db_url) == {"t0": 2500, "t1": 2500, "batch_code": 1}
    with psycopg.connect(db_url) as conn:
        text = conn.execute("SELECT text_value, value FROM samples s JOIN tags t ON t.id = s.tag_id "
                            "WHERE t.name = 'batch_code'").fetchone()  # fmt: skip
        assert text == ("LOT-42", None)
        # rollups are ready right after an import
        minutes = conn.execute("SELECT sum(sample_count) FROM samples_1m").fetchone()[0]
        hours = conn.execute("SELECT sum(sample_count), min(min_value), max(max_value) FROM samples_1h").fetchone()
    assert minutes == 5000
    assert hours == (5000, 0.0, 4999 * 0.5)


def test_rollups_hold_min_max_avg_last_per_tag_and_minute(db_url: str, tmp_path: Path) -> None:
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    rows = ["time,tag,value"] + [f"{(minute + timedelta(seconds=s)).isoformat()},t0,{v}"
                                 for s, v in ((1, 4.0), (20, 1.0), (40, 7.0), (59, 2.0))]  # fmt: skip
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    import_csv(tmp_path / "m.csv", plant(1), db_url)
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT bucket, min_value, max_value, avg_value, last_value, sample_count "
                           "FROM samples_1m").fetchall()  # fmt: skip
    assert row == [(minute, 1.0, 7.0, 3.5, 2.0, 4)]


def test_periodic_rollup_refresh_leaves_the_open_minute_for_later(
    db_url: str, tmp_path: Path, flavour: Flavour
) -> None:
    from collectors.store import SampleStore, refresh_rollups
    from tests.collectors.store.helpers import ramp

    store = SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool")
    store.start()
    if not 2 <= datetime.now(UTC).second <= 50:  # keep the "open" minute open during the test
        time.sleep((62 - datetime.now(UTC).second) % 60)
    now = datetime.now(UTC)
    closed = now.replace(second=0, microsecond=0) - timedelta(minutes=2)
    store.write(ramp(1, 10, start=closed))  # a complete minute
    store.write(ramp(1, 5, start=now - timedelta(milliseconds=100), step_ms=1))  # the open minute
    assert store.flush(10)
    store.close()
    refresh_rollups(db_url, open_minute=False)
    with psycopg.connect(db_url) as conn:
        counts = conn.execute("SELECT bucket, sample_count FROM samples_1m ORDER BY 1").fetchall()
        pending = conn.execute("SELECT count(*) FROM sample_rollup_pending").fetchone()[0]
    open_minute = (now - timedelta(milliseconds=100)).replace(second=0, microsecond=0)
    if flavour.timescaledb:  # real-time aggregation shows the open minute before it is materialised
        assert counts == [(closed, 10), (open_minute, 5)] and pending == 1
    else:
        assert counts == [(closed, 10)] and pending == 1  # the open minute waits
    refresh_rollups(db_url)  # an explicit refresh takes everything
    with psycopg.connect(db_url) as conn:
        total = conn.execute("SELECT sum(sample_count) FROM samples_1m").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM sample_rollup_pending").fetchone()[0]
    assert total == 15 and pending == 0


def test_a_rerun_with_other_batch_rows_or_appended_rows_stores_only_what_is_new(db_url: str, tmp_path: Path) -> None:
    source = _csv(tmp_path / "history.csv", 3000)
    assert import_csv(source, plant(2), db_url, batch_rows=1000).rows_stored == 3001
    assert import_csv(source, plant(2), db_url, batch_rows=777).rows_stored == 0
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    with source.open("a") as handle:  # one more row appended to the same file
        handle.write(f"{(start + timedelta(seconds=5000)).isoformat()},t0,7.5,good\n")
    appended = import_csv(source, plant(2), db_url, batch_rows=500)
    assert (appended.rows_stored, appended.rows_already_stored) == (1, 3001)
    assert counts_per_tag(db_url) == {"t0": 1501, "t1": 1500, "batch_code": 1}


def test_unusable_lines_are_counted_with_file_and_line_and_the_import_goes_on(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from collectors.samples import BAD_NO_DATA, GOOD, UNCERTAIN

    caplog.set_level(logging.WARNING, logger="linebrain.import")
    source = tmp_path / "messy.csv"
    local = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    good = lambda i: f"{(local + timedelta(seconds=i)).isoformat()},t0,{i},good\n".encode()  # noqa: E731
    source.write_bytes(b"".join([
        b"time,tag,value,quality\n",
        good(1),
        f"{local.isoformat()},t1,\xff\xfe,good\n".encode("latin-1"),     # line 3: not UTF-8
        good(2),
        f"{local.isoformat()},batch_code,{'x' * 200_000}\n".encode(),     # line 5: a field over 128 KB
        good(3),
        f"{local.isoformat()},t1,1,0x1FFFFFFFF\n".encode(),               # line 7: quality beyond 32 bits
        f"{local.isoformat()},ghost,1\n".encode(),                        # line 8: unknown tag
        f"{(local + timedelta(seconds=9)).isoformat()},t1,,\n".encode(),  # empty value: stored Bad_NoData
        b"2026-03-29T02:30:00,t1,5\n",                                    # Berlin DST gap: flagged
        b"2026-10-25T02:30:00,t1,6\n",                                    # Berlin DST fold: flagged
        good(4),
    ]))  # fmt: skip
    config = plant(2)
    config = config.model_copy(update={"site": config.site.model_copy(update={"timezone": "Europe/Berlin"})})
    result = import_csv(source, config, db_url)
    assert result.rows_read == 11 and result.rows_rejected == 4 and result.rows_stored == 7
    assert result.reasons["unreadable line"] == 3 and result.reasons["unknown tag"] == 1
    for line in (3, 5, 7, 8):
        assert f"messy.csv:{line}:" in caplog.text
    assert "'ghost' is not a tag of the config" in caplog.text
    with psycopg.connect(db_url) as conn:
        rows = dict(conn.execute("SELECT s.value, s.status FROM samples s JOIN tags t ON t.id = s.tag_id "
                                 "WHERE t.name = 't1'").fetchall())  # fmt: skip
    assert rows == {None: BAD_NO_DATA, 5.0: UNCERTAIN, 6.0: UNCERTAIN}
    assert counts_per_tag(db_url)["t0"] == 4 and GOOD == 0
