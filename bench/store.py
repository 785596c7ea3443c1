"""Store throughput: our exactly-once store vs plain binary COPY vs executemany INSERT.

All three start from the same list of readings (:class:`Sample` objects, as a
driver hands them over) and write them into the same ``samples`` table (emptied
in between) of a fresh embedded PostgreSQL, in batches of the same size:

- ``store``: ``SampleStore.write()`` per batch — validation, binary encoding,
  spool append + fsync, then COPY and the batch id in one transaction — until
  ``flush()`` says all is committed;
- ``copy``: tag name → id and a row tuple per reading (the least any writer
  does), then psycopg binary COPY with ``write_row``, one transaction per batch
  (the limit: what PostgreSQL and psycopg can take);
- ``executemany``: the same tuples through ``INSERT`` with ``executemany``, one
  transaction per batch (the naive baseline).

Usage: .venv/bin/python bench/store.py [--rows 500000] [--batch 20000] [--rounds 3] [--database-url URL]
Each writer runs ``--rounds`` times, interleaved; the best run of each counts.
Goal (issue 6): store ≥ 70% of copy, ≥ 4× executemany.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from collectors.config.models import Plant
from collectors.database.embedded import DATABASE, EmbeddedPostgres
from collectors.database.migrations import migrate
from collectors.samples import Sample
from collectors.store import SampleStore
from collectors.store.rows import COLUMNS, receive_delay_ms, unix_us

TAGS = 1000


def plant() -> Plant:
    return Plant.model_validate({
        "site": {"name": "bench"},
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 502}],
        "tags": [{"name": f"t{i}", "connection": "plc", "table": "holding_register", "address": i,
                  "data_type": "float32"} for i in range(TAGS)],
    })  # fmt: skip


def readings(rows: int) -> list[Sample]:
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        Sample(f"t{i % TAGS}", start + timedelta(microseconds=i * 100), float(i % 977) * 0.5, 0, None, None,
               start + timedelta(microseconds=i * 100 + 50))
        for i in range(rows)
    ]  # fmt: skip


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE samples, store_batches, sample_rollup_pending")
        conn.execute("SELECT ensure_sample_partitions(now() - interval '1 day', now())")
        conn.execute("CHECKPOINT")


def run_store(url: str, samples: list[Sample], batch: int, spool: Path) -> float:
    store = SampleStore.for_plant(plant(), url, spool_dir=spool)
    store.start()
    started = time.perf_counter()
    for offset in range(0, len(samples), batch):
        store.write(samples[offset : offset + batch])
    assert store.flush(600), "store did not finish"
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed


def tag_ids(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT name, id FROM tags").fetchall())


def as_rows(ids: dict[str, int], samples: list[Sample]) -> list[tuple]:
    """The store's columns (COLUMNS): the receive time as its delay in ms after the source time."""
    return [(s.time, ids[s.tag], s.value, s.text, s.status, s.server_time, None, s.source_time,
             receive_delay_ms(unix_us(s.received) - unix_us(s.time)) if s.received else None)
            for s in samples]  # fmt: skip


def run_copy(url: str, samples: list[Sample], batch: int) -> float:
    ids = tag_ids(url)
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        rows = as_rows(ids, samples)
        for offset in range(0, len(rows), batch):
            sql = f"COPY samples ({COLUMNS}) FROM STDIN (FORMAT BINARY)"
            with conn.transaction(), conn.cursor() as cur, cur.copy(sql) as copy:
                copy.set_types(["timestamptz", "int4", "float8", "text", "int8", "timestamptz", "timestamptz",
                                "timestamptz", "int4"])  # fmt: skip
                for row in rows[offset : offset + batch]:
                    copy.write_row(row)
        return time.perf_counter() - started


def run_executemany(url: str, samples: list[Sample], batch: int) -> float:
    ids = tag_ids(url)
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        rows = as_rows(ids, samples)
        for offset in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(f"INSERT INTO samples ({COLUMNS}) VALUES ({', '.join(['%s'] * 9)})",
                                rows[offset : offset + batch])  # fmt: skip
        return time.perf_counter() - started


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM samples").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--baseline-rows", type=int, default=100_000, help="rows for executemany (it is slow)")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each writer; the best counts")
    parser.add_argument("--database-url", default=None, help="default: a fresh embedded server")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="linebrain-bench-") as tmp:
        os.chmod(tmp, 0o755)  # run as root, the embedded server's own user must reach its data dir
        server = None
        url = args.database_url
        if url is None:
            server = EmbeddedPostgres(Path(tmp) / "pg", port=free_port())
            url = server.start().admin_url(DATABASE)  # superuser: reset() checkpoints between rounds
        try:
            migrate(url)
            samples = readings(args.rows)
            SampleStore.for_plant(plant(), url, spool_dir=Path(tmp) / "warm")  # registers the tags
            results: dict[str, tuple[int, float]] = {}
            for name in ("copy", "store", "executemany") * args.rounds:  # interleaved: fair to a busy machine
                reset(url)
                if name == "store":
                    elapsed = run_store(url, samples, args.batch, Path(tmp) / f"spool-{time.time()}")
                    n = args.rows
                elif name == "copy":
                    elapsed, n = run_copy(url, samples, args.batch), args.rows
                else:
                    n = min(args.baseline_rows, args.rows)
                    elapsed = run_executemany(url, samples[:n], args.batch)
                assert count(url) == n, f"{name}: row count mismatch"
                best = results.get(name)
                rate = n / elapsed
                if best is None or rate > best[0] / best[1]:
                    results[name] = (n, elapsed)
                print(f"  {name:12s} {n:>9,d} rows in {elapsed:6.2f} s = {rate:>10,.0f} rows/s", flush=True)
        finally:
            if server is not None:
                server.stop()

    rate = {name: n / elapsed for name, (n, elapsed) in results.items()}
    print(f"\nmachine: {describe(f'psycopg {psycopg.__version__}')}")
    print(f"best of {args.rounds} interleaved rounds, {args.batch:,d} rows per batch:")
    for name in ("store", "copy", "executemany"):
        print(f"  {name:12s} {rate[name]:>10,.0f} rows/s  ({results[name][0]:,d} rows)")
    print(f"store / copy        = {rate['store'] / rate['copy']:.2f}  (goal ≥ 0.70)")
    print(f"store / executemany = {rate['store'] / rate['executemany']:.1f}×  (goal ≥ 4×)")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
