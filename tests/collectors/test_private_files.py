"""Spooled samples, quarantined rows, the tag map and the OPC UA client key are private to
LineBrain's OS user: another account on the host can neither list nor read them."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.drivers.opcua.security import ensure_client_certificate
from collectors.store import SampleStore
from collectors.store.rows import EncodedBatch, unix_us
from collectors.store.spool import Spool
from tests.collectors.store.helpers import plant
from tests.collectors.store.test_hostile_values import _raw_row
from tests.other_user import OtherUser


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_spooled_samples_are_private(pg_data_dir: Path, another_user: OtherUser) -> None:
    folder = pg_data_dir / "spool"  # under a folder anyone may traverse: only our own modes protect it
    spool = Spool(folder, max_bytes=1 << 20)
    spool.open()
    try:
        spool.append(uuid.uuid4(), 1, 0, 0, b"plant data")
        private = [next(folder.glob("*.spool")), folder / ".lock"]
        assert another_user.attempt(*[("read", p) for p in private], ("list", folder)) == ["denied"] * 3
        assert [_mode(p) for p in private] == [0o600, 0o600] and _mode(folder) == 0o700
    finally:
        spool.close()


def test_quarantined_rows_and_the_tag_map_are_private(db_url: str, pg_data_dir: Path, another_user: OtherUser) -> None:
    folder = pg_data_dir / "spool"
    store = SampleStore.for_plant(plant(1), db_url, spool_dir=folder)
    tag_id = store.encoder.tags["batch_code"].tag_id
    start = unix_us(datetime.now(UTC) - timedelta(seconds=30))
    rows = [_raw_row(start + i, tag_id, b"\xc3\x28" if i == 1 else b"ok") for i in range(3)]
    store.start()  # the database refuses one row: it goes to quarantine
    store.write_encoded(EncodedBatch(b"".join(rows), len(rows), start, start + 2), uuid.uuid4())
    assert store.flush(20) and store.close()
    (quarantined,) = (folder / "quarantine").glob("*.copy")
    tag_map = folder / "tag_ids.json"
    assert another_user.attempt(("read", quarantined), ("read", tag_map), ("list", folder / "quarantine")) == \
        ["denied"] * 3  # fmt: skip
    assert [_mode(quarantined), _mode(tag_map), _mode(folder / "quarantine")] == [0o600, 0o600, 0o700]


def test_the_opcua_client_key_and_its_folders_are_private(pg_data_dir: Path, another_user: OtherUser) -> None:
    pki = pg_data_dir / "pki"
    identity = ensure_client_certificate(pki, "urn:linebrain:test")
    assert another_user.attempt(("read", identity.private_key), ("list", pki), ("list", pki / "own")) == \
        ["denied"] * 3  # fmt: skip
    assert _mode(identity.private_key) == 0o600
    assert _mode(pki) == _mode(pki / "own") == 0o700
