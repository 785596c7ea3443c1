"""The pipeline's queue and batcher: flush by size or by age, never block the sink."""

from __future__ import annotations

import time
from pathlib import Path

from collectors.pipeline import Pipeline
from collectors.store import SampleStore
from tests.collectors.store.helpers import counts_per_tag, plant, ramp


def _pipeline(db_url: str, tmp_path: Path, **options: object) -> Pipeline:
    config = plant(2)
    store = SampleStore.for_plant(config, db_url, spool_dir=tmp_path / "spool")
    return Pipeline(store, config.tags, **options)


def test_batcher_flushes_by_size(db_url: str, tmp_path: Path) -> None:
    pipeline = _pipeline(db_url, tmp_path, batch_max_rows=500, batch_max_age_s=30)
    pipeline.start()
    pipeline.sink(ramp(2, 1000))  # 2000 readings: four full batches, no waiting for age
    deadline = time.monotonic() + 10
    while pipeline.store.stats.batches_committed < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pipeline.store.stats.batches_committed == 4
    assert pipeline.stop()
    assert counts_per_tag(db_url) == {"t0": 1000, "t1": 1000}


def test_batcher_flushes_a_small_batch_by_age(db_url: str, tmp_path: Path) -> None:
    pipeline = _pipeline(db_url, tmp_path, batch_max_rows=10_000, batch_max_age_s=0.3)
    pipeline.start()
    started = time.monotonic()
    pipeline.sink(ramp(2, 5))
    while pipeline.store.stats.batches_committed < 1 and time.monotonic() - started < 5:
        time.sleep(0.01)
    waited = time.monotonic() - started
    assert pipeline.store.stats.batches_committed == 1
    assert 0.25 <= waited < 1.5
    pipeline.stop()


def test_sink_never_blocks_and_a_full_queue_drops_loudly(db_url: str, tmp_path: Path) -> None:
    pipeline = _pipeline(db_url, tmp_path, queue_max_samples=1000, report_by_exception=False)
    # Not started: nothing drains the queue, as if the batcher were stuck.
    started = time.monotonic()
    for chunk in range(10):
        pipeline.sink(ramp(2, 100, step_ms=chunk + 1))
    assert time.monotonic() - started < 0.5
    assert pipeline.queue_depth() == 1000
    assert pipeline.stats.samples_dropped_queue_full == 1000


def test_stop_spools_and_sends_what_is_queued(db_url: str, tmp_path: Path) -> None:
    pipeline = _pipeline(db_url, tmp_path, batch_max_rows=100_000, batch_max_age_s=60)
    pipeline.start()
    pipeline.sink(ramp(2, 300))
    assert pipeline.stop(timeout=10)
    assert counts_per_tag(db_url) == {"t0": 300, "t1": 300}
