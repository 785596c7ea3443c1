"""When the collector received a sample: stored as a delay in ms after its source time (collectors 0022), the
exact ``received_time`` only where the delay does not fit; every reader gives the same received time back."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.mqtt.spooled import spooled_samples
from collectors.samples import Sample
from collectors.store import SampleStore, commit_batch
from collectors.store.latest import last_stored_samples
from collectors.store.rows import split_rows
from tests.collectors.store.helpers import plant

NOW = datetime.now(UTC).replace(microsecond=0)
MS = timedelta(milliseconds=1)
MONTH_AGO = NOW - timedelta(days=31)
# tag → (source time, received time stored, received time read back)
CASES = {
    "t0": (NOW - timedelta(minutes=3, microseconds=2_345), 43 * MS, 43 * MS),  # polled: 43 ms later
    "t1": (NOW - timedelta(minutes=2), -250 * MS, -250 * MS),  # the source clock 250 ms ahead
    # Sub-millisecond digits of the receive clock are noise: kept to the nearest millisecond.
    "t2": (NOW - timedelta(minutes=1), timedelta(microseconds=61_499), 61 * MS),
    "t3": (NOW - timedelta(minutes=1), timedelta(microseconds=-61_500), -61 * MS),  # half a ms rounds up
}
# A store-and-forward buffer replayed a month late: the delay does not fit an integer of ms.
LATE = (MONTH_AGO + timedelta(microseconds=123_457), NOW + timedelta(microseconds=7) - MONTH_AGO, None)


def _samples(general_path: bool) -> list[Sample]:
    """One sample per case; ``general_path``: with a server time, which the encoder's fast path leaves out."""
    cases = {**CASES, "t4": LATE}
    return [Sample(tag, at, float(index), received=at + delay, server_time=at if general_path else None)
            for index, (tag, (at, delay, _back)) in enumerate(cases.items())]  # fmt: skip


def _expected() -> dict[str, datetime]:
    back = {tag: at + read for tag, (at, _delay, read) in CASES.items()}
    return {**back, "t4": LATE[0] + LATE[1]}


@pytest.fixture(params=["fast path", "general path"])
def stored(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    """The cases written through the store (retention of 60 days: the month-late sample is inside it)."""
    store = SampleStore.for_plant(plant(5, retention_days=60), db_url, spool_dir=tmp_path / "spool")
    assert store.encoder._fast is not None  # psycopg's C row formatter is in use: both paths are tested
    store.start()
    store.write(_samples(request.param == "general path"))
    assert store.flush(20)
    assert store.close()
    return db_url


def test_the_store_writes_the_delay_in_ms_and_the_exact_time_only_where_it_does_not_fit(stored: str) -> None:
    with psycopg.connect(stored) as conn:
        rows = {name: (delay, received) for name, delay, received in conn.execute(
            "SELECT t.name, s.receive_delay_ms, s.received_time FROM samples s JOIN tags t ON t.id = s.tag_id")}
    assert rows == {"t0": (43, None), "t1": (-250, None), "t2": (61, None), "t3": (-61, None),
                    "t4": (None, LATE[0] + LATE[1])}  # fmt: skip


def test_received_times_round_trip_through_the_collectors_reader(stored: str) -> None:
    latest = {sample.tag: sample.received for sample in last_stored_samples(stored, [f"t{i}" for i in range(5)])}
    assert latest == _expected()


def test_received_times_round_trip_through_the_grafana_functions(stored: str) -> None:
    with psycopg.connect(stored) as conn:
        samples = dict(conn.execute(
            "SELECT tag, received_time FROM grafana.tag_samples(%s, %s, %s)",
            ([f"t{i}" for i in range(5)], MONTH_AGO - timedelta(days=1), NOW + timedelta(days=1)),
        ).fetchall())  # fmt: skip
        ages = dict(conn.execute("SELECT tag, age_at_receipt FROM grafana.tag_latest").fetchall())
    expected = _expected()
    assert samples == expected
    assert {tag: age for tag, age in ages.items() if age is not None} == {
        tag: expected[tag] - at for tag, (at, _delay, _back) in {**CASES, "t4": LATE}.items()
    }


def test_rows_written_before_the_delay_column_keep_their_received_time(db_url: str, tmp_path: Path) -> None:
    SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool")  # registers t0
    at = NOW - timedelta(minutes=1)
    received = at + timedelta(microseconds=48_765)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 day', now())")
        conn.execute("INSERT INTO samples (time, tag_id, value, status, received_time) "
                     "SELECT %s, id, 1.0, 0, %s FROM tags WHERE name = 't0'", (at, received))  # fmt: skip
        assert conn.execute("SELECT received_time, age_at_receipt FROM grafana.tag_samples(ARRAY['t0'], %s, %s) "
                            "JOIN grafana.tag_latest USING (tag)",
                            (at - MS, at + MS)).fetchone() == (received, received - at)  # fmt: skip
    assert [s.received for s in last_stored_samples(db_url, ["t0"])] == [received]


def test_a_batch_spooled_before_the_delay_column_is_still_stored_and_published(db_url: str, tmp_path: Path) -> None:
    """A spool written by the previous version (eight columns, ``received_time`` a timestamp) replays as is,
    and the edge node reads received times back from both layouts."""
    store = SampleStore.for_plant(plant(1), db_url, spool_dir=tmp_path / "spool")
    at = NOW - timedelta(minutes=1)
    received = at + timedelta(microseconds=48_765)
    batch = store.encoder.encode([Sample("t0", at, 1.0, received=received)])
    assert batch is not None
    old = _eight_columns(batch.payload, received)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 day', now())")
        assert commit_batch(conn, uuid.uuid4(), old, 1, batch.first_us, batch.last_us)
        assert conn.execute("SELECT received_time, receive_delay_ms FROM samples").fetchone() == (received, None)
    assert [s.received for _alias, s in spooled_samples(old)] == [received]
    assert [s.received for _alias, s in spooled_samples(batch.payload)] == [at + 49 * MS]


def _eight_columns(payload: bytes, received: datetime) -> bytes:
    """The row as the previous encoder wrote it: received_time in microseconds since 2000, no delay column."""
    (row,) = split_rows(payload)
    fields: list[bytes | None] = []
    offset = 2
    for _ in range(struct.unpack_from("!h", row)[0]):
        (length,) = struct.unpack_from("!i", row, offset)
        offset += 4
        fields.append(None if length < 0 else row[offset : offset + length])
        offset += max(length, 0)
    pg_us = (received - datetime(2000, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    out = struct.pack("!h", 8)
    for value in [*fields[:6], struct.pack("!q", pg_us), fields[7]]:
        out += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    return out
