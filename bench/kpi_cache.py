"""Bench: the 30-day one-line KPI as the API, pages and reports ask for it, live and from the hour cache.

bench/timescale.py's month of one line (bench/grafana.py's data: 5 tags at 1 s, 13 M samples,
30 orders, derivation, rollups, KPI cache filled by ``grafana.refresh_kpi_hours``) on two
embedded servers from the same PostgreSQL 18 binaries, one with TimescaleDB preloaded, one
without. On each, median of ``--runs``:

- ``mes_kpi_live(line, 30 days)``: the timeline of the whole month (what ``mes_kpi`` did
  before mes 0120);
- ``mes_kpi(line, 30 days)``: cached whole hours plus the live edges (what the API, pages
  and reports call since mes 0120), by period and by shift;
- ``kpi.calendar_kpis(..., 'day')``: the month's 30 plant days, as the report pages read it;
- ``grafana.kpi(line, 30 days)``: the dashboards' reading of the same cache.

Every cached answer is compared with the live one (all columns, every row) before it is timed.
Goal (issue 20): the 30-day KPI under 200 ms on both flavours.

    .venv/bin/python bench/kpi_cache.py [--days 30] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench import grafana as grafana_bench  # noqa: E402
from bench.database import flavour_servers  # noqa: E402
from bench.machine import describe  # noqa: E402
from collectors.database.migrations import migrate  # noqa: E402
from mes import ALL_MIGRATIONS  # noqa: E402
from mes.db import rows  # noqa: E402
from mes.production import kpi  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for flavour, server, _ in flavour_servers("linebrain-bench-kpi-cache-"):
        url = server.create_database("line")
        migrate(url, ALL_MIGRATIONS)
        start, end = grafana_bench.build(url, args.days)
        results[flavour] = measure(url, start, end, args.runs)
    report(results, args)


def measure(url: str, start: datetime, end: datetime, runs: int) -> dict[str, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        for by in ("period", "shift", "order", "product"):
            assert kpi.kpis(conn, "line1", start, end, by) == kpi.kpis(conn, "line1", start, end, by, live=True), by
        days = kpi.calendar_kpis(conn, "line1", start, end, "day")
        assert days == kpi.calendar_kpis(conn, "line1", start, end, "day", live=True)
        print(f"  cached = live: every column of every row, 4 groupings and {len(days)} plant days", flush=True)

        def sql(query: str) -> Callable[[], object]:
            return lambda: rows(conn, query, ("line1", start, end))

        figures = {
            "live": median_ms(sql("SELECT * FROM mes_kpi_live(%s, %s, %s)"), runs),
            "cached": median_ms(sql("SELECT * FROM mes_kpi(%s, %s, %s)"), runs),
            "live_shift": median_ms(sql("SELECT * FROM mes_kpi_live(%s, %s, %s, 'shift')"), runs),
            "cached_shift": median_ms(sql("SELECT * FROM mes_kpi(%s, %s, %s, 'shift')"), runs),
            "live_days": median_ms(lambda: kpi.calendar_kpis(conn, "line1", start, end, "day", live=True), runs),
            "cached_days": median_ms(lambda: kpi.calendar_kpis(conn, "line1", start, end, "day"), runs),
            "grafana": median_ms(sql("SELECT * FROM grafana.kpi(%s, %s, %s)"), runs),
        }
    print(f"  {figures}", flush=True)
    return figures


def median_ms(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    plain, ts = results["plain"], results["timescaledb"]
    print(f"\nmachine: {describe('PostgreSQL 18, TimescaleDB')}\n")
    print(f"| one line, {args.days} days, median of {args.runs} | plain live | plain cached | TimescaleDB live "
          f"| TimescaleDB cached |\n|---|---:|---:|---:|---:|")
    for label, live, cached in (("`mes_kpi(line, from, to)`", "live", "cached"),
                                ("`mes_kpi(..., 'shift')`", "live_shift", "cached_shift"),
                                ("`calendar_kpis(..., 'day')` (one query per day)", "live_days", "cached_days")):
        print(f"| {label} | {plain[live]:,.0f} ms | **{plain[cached]:,.0f} ms** | {ts[live]:,.0f} ms "
              f"| **{ts[cached]:,.0f} ms** |")
    print(f"| `grafana.kpi(line, from, to)` (dashboards) | | {plain['grafana']:,.0f} ms | | {ts['grafana']:,.0f} ms |")
    for flavour, figures in results.items():
        met = "met" if figures["cached"] < 200 else "MISSED"
        print(f"goal 30-day KPI < 200 ms on {flavour}: {met} ({figures['cached']:.0f} ms cached, "
              f"{figures['live']:.0f} ms live, {figures['live'] / figures['cached']:.1f}x)")


if __name__ == "__main__":
    main()
