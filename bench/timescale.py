"""Bench: TimescaleDB and plain PostgreSQL side by side, in one run on the same machine.

Two embedded servers from the same PostgreSQL 18 binaries, one started with
TimescaleDB preloaded (installed by ../shared/tools/timescaledb-build), one
without. On each, in turn:

1. **ingest**: ``--rows`` readings of 1,000 tags through ``SampleStore`` (spool,
   binary COPY, exactly-once ledger), batches of 20,000; best of ``--rounds``.
2. **bytes per sample**: one day of 1 s samples of 20 tags, as the store writes
   them (source time on the second plus a few ms, received 20–80 ms later,
   kept as ``receive_delay_ms``: collectors 0022), ten days ago; two kinds of
   tag in two databases: *slowly varying* (a temperature to 0.1 °C drifting
   over hours) and *noisy floats* (full 53-bit noise); and, as the baseline,
   the slowly varying day in the layout before collectors 0022 (the receive
   time as a second timestamp, ``received_time``). TimescaleDB compresses
   every chunk; plain PostgreSQL has no compression. Figures from
   ``collectors.database.storage_stats`` (what ``linebrain db stats`` prints)
   after ANALYZE.
3. **30 days of one line** (bench/grafana.py's data: 5 tags at 1 s, 13 M
   samples, orders, derivation, rollups, KPI cache): the one-line KPI query
   ``mes_kpi(line, 30 days)`` (median of 7; cached whole hours plus live edges since
   mes 0120, what the API, pages and reports call), ``mes_kpi_live`` (the same row
   from the live timeline alone, as before) and ``grafana.kpi(line, 30 days)`` (the
   dashboards' reading of the cache), and every Grafana panel query
   for "Last 30 days" as the read-only Grafana role (median of 3).

On TimescaleDB the compressed bytes per sample are split by column (``pg_column_size``
of each compressed column of every compressed chunk) and the rest (batch rows, their
index, TOAST chunk headers and page space) is shown as overhead.

Goals (issue 20): ≤ 5 B per compressed sample for slowly varying tags; the
30-day KPI query under 200 ms; every panel within its statement timeout (60 s),
bench/grafana.py's own goal being 1 s.

    .venv/bin/python bench/timescale.py [--rows 300000] [--days 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import grafana as grafana_bench  # noqa: E402
from bench import store as store_bench  # noqa: E402
from bench.database import flavour_servers  # noqa: E402
from bench.machine import describe  # noqa: E402
from collectors.database.embedded import EmbeddedPostgres  # noqa: E402
from collectors.database.migrations import migrate  # noqa: E402
from collectors.database.storage_stats import storage_stats  # noqa: E402
from mes import ALL_MIGRATIONS  # noqa: E402
from mes.grafana.role import ensure_role  # noqa: E402

COMPRESS_TAGS = 20

# One day of 1 s samples per tag, ten days ago, with the store's columns.
COMPRESS_SQL = """
INSERT INTO samples (time, tag_id, value, status, {receipt})
SELECT t.at, g.tag_id, {value}, 0, {received}
FROM generate_series(1, %(tags)s) AS g (tag_id),
     LATERAL (SELECT date_trunc('day', now()) - interval '10 days'
                     + make_interval(secs => s + 0.003 * random()) AS at, s
              FROM generate_series(0, 86399) AS s) t
"""
# How the receive time is kept: as the store writes it (collectors/store/rows.py, receive_delay_ms: whole ms
# after the source time, half a ms rounding up), or as it did before collectors 0022 (a second timestamp).
DELAY = ("receive_delay_ms", "floor(extract(epoch FROM make_interval(secs => 0.02 + 0.06 * random())) * 1000 + 0.5)")
RECEIVED_TIME = ("received_time", "t.at + make_interval(secs => 0.02 + 0.06 * random())")
SLOW = "round((20 + 5 * sin(t.s / 7200.0 + g.tag_id))::numeric, 1)::float8"
NOISY = "20 + random()"

# What the two timestamps cost (--timestamps): the slowly varying values with regular or jittered times.
DAY = "date_trunc('day', now()) - interval '10 days'"
ON_GRID = f"{DAY} + make_interval(secs => s)"
JITTERED = f"{DAY} + make_interval(secs => s + 0.003 * random())"
RECEIVED = "t.at + make_interval(secs => 0.02 + 0.06 * random())"
RECEIVE_DELAY = DELAY[1]
TIMESTAMPS = {  # label: (time, received_time, receive_delay_ms)
    "store-like: source time 0–3 ms off the 1 s grid, receive delay 20–80 ms in ms": (JITTERED, "NULL", RECEIVE_DELAY),
    "source time on the 1 s grid, receive delay 20–80 ms in ms": (ON_GRID, "NULL", RECEIVE_DELAY),
    "before collectors 0022: source time 0–3 ms off the grid, received_time 20–80 ms later": (JITTERED, RECEIVED,
                                                                                               "NULL"),
    "source time on the 1 s grid, received_time 20–80 ms later": (ON_GRID, RECEIVED, "NULL"),
    "source time 0–3 ms off the grid, no receive time": (JITTERED, "NULL", "NULL"),
    "source time on the grid, no receive time": (ON_GRID, "NULL", "NULL"),
}
TIMESTAMPS_SQL = """
INSERT INTO samples (time, tag_id, value, status, received_time, receive_delay_ms)
SELECT t.at, g.tag_id, {value}, 0, {received}, {delay}
FROM generate_series(1, %(tags)s) AS g (tag_id), LATERAL (SELECT {at} AS at, s FROM generate_series(0, 86399) s) t
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000, help="readings through the store")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--compress-tags", type=int, default=COMPRESS_TAGS,
                        help="tags of the bytes-per-sample day (a smaller number for a quick trial)")
    parser.add_argument("--timestamps", action="store_true",
                        help="only: compressed bytes per sample with regular or jittered timestamps (TimescaleDB)")
    args = parser.parse_args()
    if args.timestamps:
        timestamp_costs()
        return
    results: dict[str, dict[str, object]] = {}
    for flavour, server, tmp in flavour_servers("linebrain-bench-ts-"):
        results[flavour] = measure(server, tmp, args)
    saved = Path(tempfile.gettempdir()) / "linebrain-bench-timescale.json"
    saved.write_text(json.dumps(results, default=str, indent=1))  # the raw figures, should the report fail
    print(f"figures saved in {saved}")
    print_report(results, args)


def measure(server: EmbeddedPostgres, tmp: Path, args: argparse.Namespace) -> dict[str, object]:
    figures: dict[str, object] = {"load_before": os.getloadavg()[0]}
    with psycopg.connect(server.admin_url(), autocommit=True) as conn:
        available = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    figures["version"] = available[0] if available else "not installed"
    new_database(server, "ingest")
    # As the superuser: bench/store.py's reset checkpoints between rounds.
    figures["ingest"] = ingest_rate(server.admin_url("ingest"), tmp, args)
    for name, value, receipt in (("slow", SLOW, DELAY), ("noisy", NOISY, DELAY), ("slow_before", SLOW, RECEIVED_TIME)):
        figures[name] = bytes_per_sample(new_database(server, name), value, receipt, args.compress_tags)
    url = new_database(server, "line")
    start, end = grafana_bench.build(url, args.days)
    figures["kpi_ms"] = kpi_query_ms(url, start, end)
    figures["kpi_live_ms"] = kpi_query_ms(url, start, end, "mes_kpi_live")
    figures["kpi_cached_ms"] = kpi_query_ms(url, start, end, "grafana.kpi")
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
        elapsed = store_bench.run_store(url, samples, 20_000, tmp / f"spool-ingest-{round_no}")
        assert store_bench.count(url) == args.rows
        best = max(best, args.rows / elapsed)
        print(f"  store: {args.rows:,} rows in {elapsed:.2f} s", flush=True)
    return best


def bytes_per_sample(url: str, value_sql: str, receipt: tuple[str, str], tags: int) -> dict[str, object]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT ensure_sample_partitions(now() - interval '11 days', now())")
        conn.execute(COMPRESS_SQL.format(value=value_sql, receipt=receipt[0], received=receipt[1]), {"tags": tags})
        timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if timescale:
            conn.execute("SELECT compress_chunk(c) FROM show_chunks('samples') c")
        conn.execute("VACUUM ANALYZE samples")
        stats = storage_stats(conn)
        columns = column_costs(conn) if timescale else {}
    print(f"  {stats}", flush=True)
    return {"bytes_per_sample": stats.compressed_bytes_per_sample or stats.bytes_per_sample,
            "uncompressed": (stats.bytes_before_compression / stats.compressed_rows if stats.compressed_rows
                             else stats.bytes_per_sample),
            "ratio": stats.compression_ratio, "columns": columns}  # fmt: skip


# TimescaleDB 2.29 keeps a chunk's compressed batches in ``<chunk>_compressed``: one row per segment
# (tag) and up to 1,000 samples, each column a compressed datum (TOASTed), plus count and time metadata.
COLUMN_COST_SQL = """
SELECT sum(pg_column_size(b.time)), sum(pg_column_size(b.value)), sum(pg_column_size(b.received_time)),
       sum(pg_column_size(b.receive_delay_ms)),
       sum(pg_column_size(b.status)) + sum(pg_column_size(b.text_value)) + sum(pg_column_size(b.server_time))
           + sum(pg_column_size(b.source_time)),
       sum(b._ts_meta_count), count(*)
FROM {relation} b
"""


def column_costs(conn: psycopg.Connection) -> dict[str, float]:
    """Bytes per sample of each compressed column, summed over every compressed chunk of ``samples``."""
    totals = [0.0] * 7
    for (relation,) in conn.execute(
        "SELECT to_regclass(format('%I.%I', chunk_schema, chunk_name || '_compressed'))::text "
        "FROM timescaledb_information.chunks WHERE hypertable_name = 'samples' AND is_compressed"
    ).fetchall():
        if relation is None:
            return {}  # another TimescaleDB layout: no breakdown
        row = conn.execute(COLUMN_COST_SQL.format(relation=relation)).fetchone()
        totals = [t + float(v or 0) for t, v in zip(totals, row, strict=True)]
    rows, batches = totals[5], totals[6]
    if not rows:
        return {}
    return {"time": totals[0] / rows, "value": totals[1] / rows, "received_time": totals[2] / rows,
            "receive_delay_ms": totals[3] / rows, "status, text_value, server_time, source_time": totals[4] / rows,
            "rows per batch": rows / batches}


def timestamp_costs() -> None:
    with tempfile.TemporaryDirectory(prefix="linebrain-bench-ts-") as tmp:
        os.chmod(tmp, 0o755)
        server = EmbeddedPostgres(Path(tmp) / "ts", port=store_bench.free_port(), timescaledb=True)
        server.start()
        try:
            print("| `time` / receive time | bytes per sample | compression ratio | time | received_time "
                  "| receive_delay_ms | value | overhead |\n|---|---:|---:|---:|---:|---:|---:|---:|")
            for index, (label, (at, received, delay)) in enumerate(TIMESTAMPS.items()):
                with psycopg.connect(new_database(server, f"stamps{index}"), autocommit=True) as conn:
                    conn.execute(TIMESTAMPS_SQL.format(value=SLOW, received=received, delay=delay, at=at),
                                 {"tags": COMPRESS_TAGS})  # fmt: skip
                    conn.execute("SELECT compress_chunk(c) FROM show_chunks('samples') c")
                    conn.execute("VACUUM ANALYZE samples")
                    stats = storage_stats(conn)
                    costs = column_costs(conn)
                per_sample = stats.compressed_bytes_per_sample or 0.0
                overhead = per_sample - sum(v for k, v in costs.items() if k != "rows per batch")
                print(f"| {label} | {per_sample:.2f} | {stats.compression_ratio or 0:.1f} | {costs.get('time', 0):.2f} "
                      f"| {costs.get('received_time', 0):.2f} | {costs.get('receive_delay_ms', 0):.2f} "
                      f"| {costs.get('value', 0):.2f} | {overhead:.2f} |")
        finally:
            server.stop()


def kpi_query_ms(url: str, start: datetime, end: datetime, function: str = "mes_kpi", runs: int = 7) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        return statistics.median(timed(lambda: conn.execute(
            f"SELECT * FROM {function}('line1', %s, %s)", (start, end)).fetchall()) for _ in range(runs))  # fmt: skip


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def print_report(results: dict[str, dict[str, object]], args: argparse.Namespace) -> None:
    plain, ts = results["plain"], results["timescaledb"]
    print(f"\nmachine: {describe('PostgreSQL 18, TimescaleDB ' + str(ts.get('version')))}; load average (1 min) "
          f"{plain['load_before']:.1f}–{ts['load_after']:.1f} during the run\n")  # fmt: skip
    print("| measure | plain PostgreSQL | TimescaleDB | TimescaleDB / plain |")
    print("|---|---:|---:|---:|")
    row("ingest through the store, rows/s", plain["ingest"], ts["ingest"], "{:,.0f}")
    for name, label in (("slow", "slowly varying tags"), ("noisy", "noisy floats"),
                        ("slow_before", "slowly varying, before collectors 0022 (received_time)")):
        row(f"bytes per sample, {label}", plain[name]["bytes_per_sample"], ts[name]["bytes_per_sample"], "{:.2f}")
        print(f"| … uncompressed / compression ratio | {plain[name]['uncompressed']:.1f} B | "
              f"{ts[name]['uncompressed']:.1f} B / {ts[name]['ratio'] or 0:.1f}× | |")
    row(f"mes_kpi one line, {args.days} days, median ms", plain["kpi_ms"], ts["kpi_ms"], "{:.1f}")
    row(f"mes_kpi_live (no cache) one line, {args.days} days, median ms", plain["kpi_live_ms"], ts["kpi_live_ms"],
        "{:.1f}")
    row(f"grafana.kpi (hour cache) one line, {args.days} days, median ms", plain["kpi_cached_ms"],
        ts["kpi_cached_ms"], "{:.1f}")
    for name, label in (("slow", "slowly varying"), ("noisy", "noisy floats"),
                        ("slow_before", "slowly varying, before collectors 0022")):
        costs = ts[name]["columns"]
        if costs:
            listed = sum(v for k, v in costs.items() if k != "rows per batch")
            parts = ", ".join(f"{k} {v:.2f}" for k, v in costs.items() if k != "rows per batch")
            print(f"\nTimescaleDB, {label}, bytes per sample by column: {parts}; overhead (batch rows, their "
                  f"index, TOAST and page space) {ts[name]['bytes_per_sample'] - listed:.2f}; "
                  f"{costs['rows per batch']:.0f} samples per batch")
    print(f"\n| panel ({args.days} days, median of 3) | plain ms | TimescaleDB ms |")
    print("|---|---:|---:|")
    for (dashboard, panel, _rows, _first, warm), other in zip(plain["panels"], ts["panels"], strict=True):
        print(f"| {dashboard} / {panel} | {warm * 1000:.0f} | {other[4] * 1000:.0f} |")
    slow_b = ts["slow"]["bytes_per_sample"]
    print(f"\ngoal ≤ 5 B per compressed slowly varying sample: {'met' if slow_b <= 5 else 'MISSED'} ({slow_b:.2f} B)")
    for flavour, figures in results.items():
        print(f"goal 30-day KPI < 200 ms on {flavour}: mes_kpi {'met' if figures['kpi_ms'] < 200 else 'MISSED'} "
              f"({figures['kpi_ms']:.0f} ms), grafana.kpi {figures['kpi_cached_ms']:.0f} ms; slowest panel "
              f"{max(p[4] for p in figures['panels']) * 1000:.0f} ms")


def row(label: str, plain: float, timescale: float, spec: str) -> None:
    print(f"| {label} | {spec.format(plain)} | {spec.format(timescale)} | {timescale / plain:.2f} |")


if __name__ == "__main__":
    main()
