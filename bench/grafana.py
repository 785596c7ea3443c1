"""Bench: every Grafana panel query over 30 days of 1 s samples of one line.

Builds a database with the example brewery (one line, five tags), 30 days of
1 s samples made by generate_series in SQL (2.6 M per tag, 13 M in all; a
state code with micro-stops, idles and faults; 16-bit counters that wrap; a
speed with some bad samples; an oven temperature), one work order per day, the
store's ledger rows, the rollups (refresh_sample_rollups), the MES derivation
(mes.production.derive.run_once), six hours of quality records and the hourly KPI cache
(what `linebrain run` keeps filled). Then it exports the dashboards and runs each
panel query as Grafana would for "Last 30 days" on a 1,500-point-wide panel
($__interval = 30m), as the read-only Grafana role, and prints per-panel
timings (first run and median of the next three).

    .venv/bin/python bench/grafana.py            # embedded PostgreSQL in a temp dir
    .venv/bin/python bench/grafana.py --database-url postgresql://...  # an empty database

Goal: every panel answers in under a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from collectors.config import load_plant  # noqa: E402
from collectors.database.embedded import EmbeddedPostgres  # noqa: E402
from collectors.database.migrations import migrate  # noqa: E402
from collectors.store import refresh_rollups  # noqa: E402
from mes import ALL_MIGRATIONS  # noqa: E402
from mes.grafana.cache import refresh_all  # noqa: E402
from mes.grafana.macros import format_interval, panel_interval  # noqa: E402
from mes.grafana.provisioning import dashboard_documents  # noqa: E402
from mes.grafana.role import ensure_role  # noqa: E402
from mes.production.derive import run_once  # noqa: E402
from mes.production.orders import create_order, transition  # noqa: E402
from mes.production.sync import sync_plant  # noqa: E402
from tests.mes.grafana.harness import run_dashboard  # noqa: E402
from tests.mes.grafana.plant_data import record_quality  # noqa: E402

PLANT = ROOT / "tests" / "mes" / "grafana" / "plant.yaml"
LIMIT_SECONDS = 1.0

SAMPLES_SQL = """
WITH seconds AS (
    SELECT s, %(start)s::timestamptz + make_interval(secs => s) AS t,
           CASE WHEN s %% 420 < 8 THEN 2
                WHEN (s / 60) %% 180 BETWEEN 100 AND 104 THEN 3
                WHEN ((s / 60) %% 60 = 30 AND s %% 60 < 40) OR (s / 60) %% 60 = 31 THEN 2
                ELSE 1 END AS state
    FROM generate_series(0, %(seconds)s - 1) s
), counted AS (
    SELECT s, t, state,
           sum(CASE WHEN state = 1 THEN CASE WHEN s %% 50 = 0 THEN 9 ELSE 10 END ELSE 0 END) OVER w AS good,
           sum(CASE WHEN state = 1 AND s %% 50 = 0 THEN 1 ELSE 0 END) OVER w AS reject
    FROM seconds WINDOW w AS (ORDER BY s)
)
INSERT INTO samples (time, tag_id, value, status, received_time)
SELECT c.t, v.tag_id, v.value, v.status, c.t + interval '50 ms'
FROM counted c, LATERAL (VALUES
    (%(state)s, c.state::float8, 0::bigint),
    (%(good)s, (c.good %% 65536)::float8, 0),
    (%(reject)s, (c.reject %% 65536)::float8, 0),
    (%(speed)s, CASE WHEN c.s %% 997 = 0 THEN NULL ELSE 600 * (c.state = 1)::int - c.s %% 7 END,
     CASE WHEN c.s %% 997 = 0 THEN 2148139008 ELSE 0 END),
    (%(temp)s, 180 + 5 * sin(c.s / 600.0), 0)
) v (tag_id, value, status)
"""

LEDGER_SQL = """
INSERT INTO store_batches (batch_id, source, rows, first_time, last_time, committed_at)
SELECT gen_random_uuid(), 'bench', 86400 * 5, d, d + interval '1 day' - interval '1 s', d + interval '1 day'
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 day', interval '1 day') d
"""


def step(label: str, started: float) -> float:
    now = time.perf_counter()
    print(f"  {label:<44} {now - started:7.1f} s", flush=True)
    return now


def build(url: str, days: int) -> tuple[datetime, datetime]:
    plant = load_plant(PLANT)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    print(f"building {days} days of 1 s samples, 5 tags ({days * 86400 * 5:,} rows)")
    t = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        sync_plant(conn, plant, calendar_days=1)
        conn.execute("SELECT ensure_sample_partitions(%s, %s)", (start, end))
        # The calendar of the past 30 days (sync_plant builds from yesterday on).
        from mes.production.shifts import ensure_calendar

        ensure_calendar(conn, plant, (start - timedelta(days=1)).date(), end.date())
        ids = dict(conn.execute("SELECT name, id FROM tags").fetchall())
        for day in range(days):
            order = create_order(conn, f"WO-{day:04d}", "line1", "lager05", 780_000, by="bench",
                                 due_at=start + timedelta(days=day + 1))  # fmt: skip
            transition(conn, order["id"], "running", by="bench", at=start + timedelta(days=day, minutes=5))
            if day < days - 1:
                transition(conn, order["id"], "completed", by="bench", at=start + timedelta(days=day + 1))
        t = step(f"plant, calendar and {days} orders", t)
        conn.execute(SAMPLES_SQL, {"start": start, "seconds": days * 86400, "state": ids["filler_state"],
                                   "good": ids["filler_good"], "reject": ids["filler_reject"],
                                   "speed": ids["filler_speed"], "temp": ids["oven_temp"]})  # fmt: skip
        t = step("samples (generate_series)", t)
        conn.execute(LEDGER_SQL, {"start": start, "end": end})
        conn.execute("ANALYZE samples")
        t = step("ledger rows and ANALYZE", t)
    refresh_rollups(url)
    t = step("rollups (refresh_sample_rollups)", t)
    with psycopg.connect(url, autocommit=True) as conn:
        report = run_once(conn, plant, end)
        assert not report.errors, report.errors
        t = step("MES derivation (run_once)", t)
        # Quality records (inspections every 10 min, SPC charts, process checks).
        record_quality(conn, end - timedelta(hours=6), end)
        conn.execute("ANALYZE")
        t = step("quality records (last 6 h)", t)
        hours = refresh_all(conn)
        conn.execute("ANALYZE")
    step(f"KPI cache: {hours} line-hours (grafana refresh)", t)
    return start, end


def bench(url: str, reader_url: str, start: datetime, end: datetime, repeats: int) -> list[tuple]:
    rows = []
    with psycopg.connect(reader_url, autocommit=True) as conn:
        for document in dashboard_documents().values():
            first = run_dashboard(conn, document, start, end, 1500)
            again = [run_dashboard(conn, document, start, end, 1500) for _ in range(repeats)]
            for index, result in enumerate(first):
                warm = statistics.median(run[index].seconds for run in again)
                rows.append((document["title"].split("· ")[-1], result.panel, len(result.rows), result.seconds, warm))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (default: embedded PostgreSQL in a temp dir)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="keep the embedded server's data here; a second run with "
                        "the same folder reuses the data (and refreshes the KPI cache)")  # fmt: skip
    args = parser.parse_args()
    server = None
    built = None
    if args.database_url:
        url = args.database_url
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="lb-grafana-bench-"))
        built = data_dir / "built.txt"
        server = EmbeddedPostgres(data_dir, port=55499)
        server.start()
        url = server.url("grafana_bench")
        if not built.exists():
            server.create_database("grafana_bench", replace=True)
    try:
        migrate(url, ALL_MIGRATIONS)
        if built is not None and built.exists():
            start, end = (datetime.fromisoformat(t) for t in built.read_text().split())
            with psycopg.connect(url, autocommit=True) as conn:
                print(f"reusing {built.parent}: KPI cache refreshed ({refresh_all(conn)} line-hours)")
        else:
            start, end = build(url, args.days)
            if built is not None:
                built.write_text(f"{start.isoformat()} {end.isoformat()}")
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_role(conn, "linebrain_grafana_bench", "bench-password")
            timescale = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
            flavour = "TimescaleDB" if timescale else "plain PostgreSQL"
            version = conn.execute("SHOW server_version").fetchone()[0]
        reader = psycopg.conninfo.make_conninfo(url, user="linebrain_grafana_bench", password="bench-password",
                                                passfile="")
        rows = bench(url, reader, start, end, args.repeats)
    finally:
        if server is not None:
            server.stop()
    interval = format_interval(panel_interval(start, end, 1500))
    from bench.machine import describe

    print(f"\nmachine: {describe(f'PostgreSQL {version} ({flavour})')}")
    print(f"range {args.days} days, $__interval {interval}, as the Grafana role\n")
    print(f"| dashboard | panel | rows | first run ms | median of {args.repeats} ms |")
    print("|---|---|---:|---:|---:|")
    for dashboard, panel, count, first, warm in rows:
        print(f"| {dashboard} | {panel} | {count} | {first * 1000:.0f} | {warm * 1000:.0f} |")
    slowest = max(rows, key=lambda r: r[4])
    over = [r for r in rows if r[4] >= LIMIT_SECONDS]
    print(f"\nslowest: {slowest[0]} / {slowest[1]} {slowest[4] * 1000:.0f} ms; "
          f"{len(over)} of {len(rows)} panels at or over {LIMIT_SECONDS:.0f} s")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
