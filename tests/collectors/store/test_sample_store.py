"""The store: spool before send, exactly once by batch id, replay in order."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import psycopg
import pytest

from collectors.store import SampleStore, commit_batch
from collectors.store.spool import Spool
from tests.collectors.store.helpers import counts_per_tag, duplicates, plant, ramp


def test_written_batches_land_once_each(db_url: str, tmp_path: Path) -> None:
    store = SampleStore.for_plant(plant(3), db_url, spool_dir=tmp_path / "spool")
    store.start()
    samples = ramp(3, 1000)
    for start in range(0, len(samples), 700):
        store.write(samples[start : start + 700])
    assert store.flush(20)
    assert store.close()
    assert counts_per_tag(db_url) == {"t0": 1000, "t1": 1000, "t2": 1000}
    assert duplicates(db_url) == 0
    assert list((tmp_path / "spool").glob("*.spool")) == []  # committed batches leave the spool


def test_a_replayed_batch_id_is_skipped(db_url: str, tmp_path: Path) -> None:
    store = SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool")
    batch = store.encoder.encode(ramp(1, 50))
    batch_id = uuid.uuid4()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 day', now())")
        assert commit_batch(conn, batch_id, batch.payload, batch.rows, batch.first_us, batch.last_us)
        assert not commit_batch(conn, batch_id, batch.payload, batch.rows, batch.first_us, batch.last_us)
        assert conn.execute("SELECT count(*) FROM store_batches WHERE batch_id = %s", (batch_id,)).fetchone()[0] == 1
    assert counts_per_tag(db_url) == {"t0": 50}


def test_spool_left_by_a_dead_process_is_replayed_in_order_and_skips_committed(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    first = SampleStore.for_plant(plant(1), db_url, spool_dir=folder)
    samples = ramp(1, 300)
    encoded = [first.encoder.encode(samples[i : i + 100]) for i in range(0, 300, 100)]
    spool = Spool(folder, 10 << 20)
    spool.open()
    ids = [uuid.uuid4() for _ in encoded]
    for batch_id, batch in zip(ids, encoded, strict=True):
        spool.append(batch_id, batch.rows, batch.first_us, batch.last_us, batch.payload)
    spool.close()
    # The first batch was committed just before the "crash"; a torn record follows the last one.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 day', now())")
        commit_batch(conn, ids[0], encoded[0].payload, 100, encoded[0].first_us, encoded[0].last_us)
    segment = next(folder.glob("*.spool"))
    with segment.open("ab") as handle:
        handle.write(b"LBS1\x00\x00\x10")
    second = SampleStore.for_plant(plant(1), db_url, spool_dir=folder)
    second.start()
    assert second.flush(20)
    second.close()
    assert second.stats.batches_skipped == 1 and second.stats.batches_committed == 2
    assert counts_per_tag(db_url) == {"t0": 300}
    with psycopg.connect(db_url) as conn:
        order = [row[0] for row in conn.execute("SELECT batch_id FROM store_batches ORDER BY committed_at")]
    assert order == ids


def test_spool_near_full_warns_and_a_full_spool_drops_counted(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import free_port

    config = plant(2, spool_max_mb=1)
    store = SampleStore.for_plant(config, db_url, spool_dir=tmp_path / "spool")
    store.database_url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"  # the database is gone
    caplog.set_level(logging.WARNING, logger="linebrain.store")
    store.start()
    batches = [store.write(ramp(2, 1000, step_ms=k + 1)) for k in range(12)]  # ~150 kB each, 1 MB limit
    assert store.stats.spool_near_full
    assert "SPOOL NEAR FULL" in caplog.text
    assert None in batches and store.stats.rows_dropped_spool_full > 0
    assert "samples DROPPED" in caplog.text
    assert store.spool.size_bytes() <= 1024 * 1024
    assert not store.close(timeout=0.5)  # what was spooled stays for the next start
    assert list((tmp_path / "spool").glob("*.spool"))


def test_a_store_started_while_the_database_is_down_spools_with_remembered_tag_ids(
    db_url: str, tmp_path: Path
) -> None:
    from tests.conftest import free_port

    folder = tmp_path / "spool"
    SampleStore.for_plant(plant(2), db_url, spool_dir=folder)  # an earlier run remembered the ids
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    store = SampleStore.for_plant(plant(2), down, spool_dir=folder)
    store.start()
    store.write(ramp(2, 100))
    assert not store.flush(0.5) and store.pending_batches() == 1
    store.database_url = db_url  # the database is back
    assert store.flush(20)
    store.close()
    assert counts_per_tag(db_url) == {"t0": 100, "t1": 100}


def test_without_database_and_without_remembered_ids_the_store_refuses_to_start(tmp_path: Path) -> None:
    from collectors.errors import StoreError
    from tests.conftest import free_port

    with pytest.raises(StoreError, match="no tag ids remembered"):
        SampleStore.for_plant(plant(1), f"postgresql://postgres@127.0.0.1:{free_port()}/x", spool_dir=tmp_path)
