"""A full disk under the spool: the refused batch is cut back off and counted, everything spooled before and
after is replayed. On a real (tiny tmpfs) file system, not a mock."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from collectors.store import SampleStore
from collectors.store.spool import Spool
from tests.collectors.store.helpers import counts_per_tag, duplicates, plant, ramp, tiny_filesystem

_UNREACHABLE = "postgresql://linebrain@127.0.0.1:9/nowhere"


def test_a_full_disk_drops_counted_batches_and_keeps_the_spool_readable(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="linebrain.store")
    config = plant(1, spool_max_mb=64)
    with tiny_filesystem(tmp_path / "disk", 160) as disk:
        filler = disk / "filler"
        filler.write_bytes(b"\0" * 64 * 1024)
        store = SampleStore.for_plant(config, db_url, spool_dir=disk / "spool")
        store.database_url = _UNREACHABLE  # the database is away: everything stays in the spool
        store.start()
        samples = ramp(1, 4000)
        batches = [samples[i : i + 100] for i in range(0, len(samples), 100)]
        spooled_rows = 0
        for batch in batches[:20]:  # about 6.7 KB each: the disk fills after a dozen
            if store.write(batch) is not None:
                spooled_rows += len(batch)
        assert store.stats.rows_dropped_disk_full > 0
        assert spooled_rows + store.stats.rows_dropped_disk_full == 2000
        assert "DISK FULL" in caplog.text and "free" in caplog.text
        assert store.stats.spool_near_full and "MB free on its disk" in caplog.text
        filler.unlink()  # space again: later batches are spooled behind the refused ones
        for batch in batches[20:25]:
            assert store.write(batch) is not None
            spooled_rows += len(batch)
        store.close(timeout=0.5)
        # Every record on disk is intact: a fresh scan finds exactly what was spooled.
        spool = Spool(disk / "spool", 64 << 20)
        assert sum(record.rows for record in spool.open()) == spooled_rows
        spool.close()
        again = SampleStore.for_plant(config, db_url, spool_dir=disk / "spool")
        again.start()
        assert again.flush(20)
        again.close()
    assert counts_per_tag(db_url) == {"t0": spooled_rows}
    assert duplicates(db_url) == 0


def test_a_damaged_record_inside_a_segment_does_not_hide_the_records_behind_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.open()
    import uuid

    ids = [uuid.uuid4() for _ in range(4)]
    for index, batch_id in enumerate(ids):
        spool.append(batch_id, 1, index, index, bytes([index]) * 500)
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    data[600] ^= 0xFF  # inside the second record's payload: its CRC no longer matches
    segment.write_bytes(bytes(data))
    reopened = Spool(tmp_path, 1 << 20)
    assert [record.batch_id for record in reopened.open()] == [ids[0], ids[2], ids[3]]
    reopened.close()
