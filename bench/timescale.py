"""Bench: TimescaleDB and plain PostgreSQL side by side, in one run on the same machine.

Two embedded servers from the same PostgreSQL 18 binaries, one started with
TimescaleDB preloaded (installed by ../shared/tools/timescaledb-build), one
without. On each, in turn:

1. **ingest**: ``--rows`` readings of 1,000 tags through ``SampleStore`` (spool,
   binary COPY, exactly-once ledger), batches of 20,000; best of ``--rounds``.
2. **bytes per sample**: one day of 1 s samples of 20 tags, as the store writes
   them (source time on the second plus a few ms, ``received_time`` 20–80 ms
   later), ten days ago; two kinds of tag in two databases: *slowly varying*
   (a temperature to 0.1 °C drifting over hours) and *noisy floats* (full
   53-bit noise). TimescaleDB compresses every chunk; plain PostgreSQL has no
   compression. Figures from ``collectors.database.storage_stats`` (what
   ``linebrain db stats`` prints) after ANALYZE.
3. **30 days of one line** (bench/grafana.py's data: 5 tags at 1 s, 13 M
   samples, orders, derivation, rollups, KPI cache): the one-line KPI query
   ``mes_kpi(line, 30 days)`` (median of 7) and every Grafana panel query for
   "Last 30 days" as the read-only Grafana role (median of 3).

Goals (issue 20): ≤ 5 B per compressed sample for slowly varying tags; the
30-day KPI query under 200 ms; every panel within its statement timeout (60 s),
bench/grafana.py's own goal being 1 s.

    .venv/bin/python bench/timescale.py [--rows 300000] [--days 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import grafana as grafana_bench  # noqa: E402
from bench import store as store_bench  # noqa: E402
from collectors.database.embedded import EmbeddedPostgres  # noqa: E402
from collectors.database.migrations import migrate  # noqa: E402
from collectors.database.storage_stats import storage_stats  # noqa: E402
from mes import ALL_MIGRATIONS  # noqa: E402
from mes.grafana.role import ensure_role  # noqa: E402

FLAVOURS = ("plain", "timescaledb")
COMPRESS_TAGS = 20

# One day of 1 s samples per tag, ten days ago, with the store's columns.
COMPRESS_SQL = """
INSERT INTO samples (time, tag_id, value, status, received_time)
SELECT t.at, g.tag_id, {value}, 0, t.at + make_interval(secs => 0.02 + 0.06 * random())
FROM generate_series(1, %(tags)s) AS g (tag_id),
     LATERAL (SELECT date_trunc('day', now()) - interval '10 days'
                     + make_interval(secs => s + 0.003 * random()) AS at, s
              FROM generate_series(0, 86399) AS s) t
"""
SLOW = "round((20 + 5 * sin(t.s / 7200.0 + g.tag_id))::numeric, 1)::float8"
NOISY = "20 + random()"

# What the two timestamps cost (--timestamps): the slowly varying values with regular or jittered times.
DAY = "date_trunc('day', now()) - interval '10 days'"
ON_GRID = f"{DAY} + make_interval(secs => s)"
JITTERED = f"{DAY} + make_interval(secs => s + 0.003 * random())"
RECEIVED = "t.at + make_interval(secs => 0.02 + 0.06 * random())"
TIMESTAMPS = {
    "store-like: source time 0–3 ms off the 1 s grid, received 20–80 ms later": (JITTERED, RECEIVED),
    "source time on the 1 s grid, received 20–80 ms later": (ON_GRID, RECEIVED),
    "source time 0–3 ms off the grid, no received_time": (JITTERED, "NULL"),
    "source time on the grid, no received_time": (ON_GRID, "NULL"),
}
TIMESTAMPS_SQL = """
INSERT INTO samples (time, tag_id, value, status, received_time)
SELECT t.at, g.tag_id, {value}, 0, {received}
FROM generate_series(1, %(tags)s) AS g (tag_id), LATERAL (SELECT {at} AS at, s FROM generate_series(0, 86399) s) t
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000, help="readings through the store")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--timestamps", action="store_true",
                        help="only: compressed bytes per sample with regular or jittered timestamps (TimescaleDB)")
    args = parser.parse_args()
    if args.timestamps:
        timestamp_costs()
        return
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="linebrain-bench-ts-") as tmp:
        os.chmod(tmp, 0o755)
        for flavour in FLAVOURS:
            print(f"== {flavour}", flush=True)
            server = EmbeddedPostgres(Path(tmp) / flavour, port=store_bench.free_port(),
                                      timescaledb=flavour == "timescaledb")  # fmt: skip
            server.start()
            try:
                results[flavour] = measure(server, Path(tmp), args)
            finally:
                server.stop()
    print_report(results, args)


def measure(server: EmbeddedPostgres, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {"load_before": os.getloadavg()[0]}
    figures["ingest"] = ingest_rate(new_database(server, "ingest"), tmp, args)
    for name, value in (("slow", SLOW), ("noisy", NOISY)):
        figures[name] = bytes_per_sample(new_database(server, name), value)
    url = new_database(server, "line")
    start, end = grafana_bench.build(url, args.days)
    figures["kpi_ms"] = kpi_query_ms(url, start, end)
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_role(conn, "linebrain_grafana_bench", "bench-password")
    reader = psycopg.conninfo.make_conninfo(url, user="linebrain_grafana_bench", password="bench-password",
                                            passfile="")
    figures["panels"] = grafana_bench.bench(url, reader, start, end, 3)
    figures["load_after"] = os.getloadavg()[0]
    return figures


def new_database(server: EmbeddedPostgres, name: str) -> str:
    url = server.create_database(name)  # owned by the application role, TimescaleDB installed when preloaded
    migrate(url, ALL_MIGRATIONS)
    return url


def ingest_rate(url: str, tmp: Path, args: argparse.Namespace) -> float:
    samples = store_bench.readings(args.rows)
    best = 0.0
    for round_no in range(args.rounds):
        store_bench.reset(url)
        elapsed = store_bench.run_store(url, samples, 20_000, tmp / f"spool-{url.rsplit('/', 1)[1]}-{round_no}")
        assert store_bench.count(url) == args.rows
        best = max(best, args.rows / elapsed)
        print(f"  store: {args.rows:,} rows in {elapsed:.2f} s", flush=True)
    return best


def bytes_per_sample(url: str, value_sql: str) -> dict[str, float | None]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '11 days', now())")
        conn.execute(COMPRESS_SQL.format(value=value_sql), {"tags": COMPRESS_TAGS})
        timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if timescale:
            conn.execute("SELECT compress_chunk(c) FROM show_chunks('samples') c")
        conn.execute("VACUUM ANALYZE samples")
        stats = storage_stats(conn)
    print(f"  {url.rsplit('/', 1)[1]}: {stats}", flush=True)
    return {"bytes_per_sample": stats.compressed_bytes_per_sample or stats.bytes_per_sample,
            "uncompressed": (stats.bytes_before_compression / stats.compressed_rows if stats.compressed_rows
                             else stats.bytes_per_sample),
            "ratio": stats.compression_ratio}  # fmt: skip


def timestamp_costs() -> None:
    with tempfile.TemporaryDirectory(prefix="linebrain-bench-ts-") as tmp:
        os.chmod(tmp, 0o755)
        server = EmbeddedPostgres(Path(tmp) / "ts", port=store_bench.free_port(), timescaledb=True)
        server.start()
        try:
            print("| `time` / `received_time` | bytes per sample | compression ratio |\n|---|---:|---:|")
            for index, (label, (at, received)) in enumerate(TIMESTAMPS.items()):
                with psycopg.connect(new_database(server, f"stamps{index}"), autocommit=True) as conn:
                    conn.execute(TIMESTAMPS_SQL.format(value=SLOW, received=received, at=at),
                                 {"tags": COMPRESS_TAGS})  # fmt: skip
                    conn.execute("SELECT compress_chunk(c) FROM show_chunks('samples') c")
                    conn.execute("VACUUM ANALYZE samples")
                    stats = storage_stats(conn)
                print(f"| {label} | {stats.compressed_bytes_per_sample:.2f} | {stats.compression_ratio:.1f} |")
        finally:
            server.stop()


def kpi_query_ms(url: str, start: datetime, end: datetime, runs: int = 7) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        return statistics.median(timed(lambda: conn.execute(
            "SELECT * FROM mes_kpi('line1', %s, %s)", (start, end)).fetchall()) for _ in range(runs))  # fmt: skip


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def print_report(results: dict[str, dict[str, object]], args: argparse.Namespace) -> None:
    plain, ts = results["plain"], results["timescaledb"]
    print(f"\n{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average (1 min) "
          f"{plain['load_before']:.1f}–{ts['load_after']:.1f} during the run\n")  # fmt: skip
    print("| measure | plain PostgreSQL | TimescaleDB | TimescaleDB / plain |")
    print("|---|---:|---:|---:|")
    row("ingest through the store, rows/s", plain["ingest"], ts["ingest"], "{:,.0f}")
    for name, label in (("slow", "slowly varying tags"), ("noisy", "noisy floats")):
        row(f"bytes per sample, {label}", plain[name]["bytes_per_sample"], ts[name]["bytes_per_sample"], "{:.2f}")
        print(f"| … uncompressed / compression ratio | {plain[name]['uncompressed']:.1f} B | "
              f"{ts[name]['uncompressed']:.1f} B / {ts[name]['ratio'] or 0:.1f}× | |")
    row(f"mes_kpi one line, {args.days} days, median ms", plain["kpi_ms"], ts["kpi_ms"], "{:.1f}")
    print(f"\n| panel ({args.days} days, median of 3) | plain ms | TimescaleDB ms |")
    print("|---|---:|---:|")
    for (dashboard, panel, _rows, _first, warm), other in zip(plain["panels"], ts["panels"], strict=True):
        print(f"| {dashboard} / {panel} | {warm * 1000:.0f} | {other[4] * 1000:.0f} |")
    slow_b = ts["slow"]["bytes_per_sample"]
    print(f"\ngoal ≤ 5 B per compressed slowly varying sample: {'met' if slow_b <= 5 else 'MISSED'} ({slow_b:.2f} B)")
    for flavour, figures in results.items():
        print(f"goal 30-day KPI < 200 ms on {flavour}: {'met' if figures['kpi_ms'] < 200 else 'MISSED'} "
              f"({figures['kpi_ms']:.0f} ms); slowest panel "
              f"{max(p[4] for p in figures['panels']) * 1000:.0f} ms")


def row(label: str, plain: float, timescale: float, spec: str) -> None:
    print(f"| {label} | {spec.format(plain)} | {spec.format(timescale)} | {timescale / plain:.2f} |")


if __name__ == "__main__":
    main()
