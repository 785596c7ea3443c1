"""Bad data is stored flagged or rejected with a reason; it never crashes the pipeline or poisons a batch."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.pipeline import Pipeline
from collectors.samples import BAD_OUT_OF_RANGE, BAD_TIMEOUT, BAD_TYPE_MISMATCH, Sample
from collectors.store import SampleStore
from tests.collectors.store.helpers import plant


def test_bad_data_is_flagged_or_rejected_and_good_rows_of_the_same_batch_are_stored(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = plant(2)
    store = SampleStore.for_plant(config, db_url, spool_dir=tmp_path / "spool")
    pipeline = Pipeline(store, config.tags, batch_max_age_s=0.1, report_by_exception=False)
    pipeline.start()
    now = datetime.now(UTC) - timedelta(seconds=5)
    at = [now + timedelta(milliseconds=i) for i in range(20)]
    caplog.set_level(logging.WARNING, logger="linebrain.store")
    pipeline.sink([
        Sample("t0", at[0], 1.5),                                  # good
        Sample("t0", at[1], math.nan),                             # flagged: NaN
        Sample("t0", at[2], math.inf),                             # flagged: +inf
        Sample("t1", at[3], -math.inf, BAD_TIMEOUT),               # flagged, keeps its own bad status
        Sample("t1", at[4], "12,5 bar"),                           # flagged: string for a numeric tag
        Sample("t1", at[5], 2.5),                                  # good
        Sample("t0", now + timedelta(days=400), 9.9),              # rejected: far future
        Sample("t0", datetime(1999, 1, 1, tzinfo=UTC), 9.9),       # rejected: older than retention
        Sample("nonexistent", at[6], 1.0),                         # rejected: unknown tag
        Sample("t0", "yesterday", 1.0),                            # rejected: time is not a datetime
        Sample("t0", at[7], [1, 2]),                               # flagged: not a number
        Sample("batch_code", at[8], "LOT-7"),                      # good text
        Sample("t1", at[9].replace(tzinfo=None), 3.5),             # naive time: taken as UTC, good
    ])  # fmt: skip
    pipeline.sink([Sample("t0", at[10], 4.5)])  # the pipeline keeps going after all that
    deadline = time.monotonic() + 10
    while store.stats.rows_committed < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pipeline.stop()

    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT t.name, s.value, s.text_value, s.status FROM samples s JOIN tags t ON t.id = s.tag_id "
            "ORDER BY s.time"
        ).fetchall()
    assert rows == [
        ("t0", 1.5, None, 0),
        ("t0", None, "nan", BAD_OUT_OF_RANGE),
        ("t0", None, "inf", BAD_OUT_OF_RANGE),
        ("t1", None, "-inf", BAD_TIMEOUT),
        ("t1", None, "12,5 bar", BAD_TYPE_MISMATCH),
        ("t1", 2.5, None, 0),
        ("t0", None, "[1, 2]", BAD_TYPE_MISMATCH),
        ("batch_code", None, "LOT-7", 0),
        ("t1", 3.5, None, 0),
        ("t0", 4.5, None, 0),
    ]
    validation = store.encoder.validation
    assert sum(validation.rejected.values()) == 4
    assert set(validation.rejected) == {
        "time more than 86400 s in the future", "time older than the retention window", "unknown tag",
        "time is not a datetime",
    }  # fmt: skip
    logged = caplog.text
    for reason in ("unknown tag", "in the future", "NaN or infinity", "string for a numeric tag"):
        assert reason in logged
    with psycopg.connect(db_url) as conn:  # no partition was created for the absurd times
        parts = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'samples'::regclass")]  # fmt: skip
    assert "samples_1999_01" not in parts and len(parts) <= 2
