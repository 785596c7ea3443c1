"""Bench: ISO 22400 KPI queries for one line over 30 days of 1 s samples.

Builds a throw-away embedded PostgreSQL, generates 30 days of one-second samples
in SQL (generate_series): a state tag with a stop in every 10-minute cycle
(micro-stops, faults, jams, changeovers of pseudo-random length), and 16-bit good
and reject counters that reset every day and wrap. A three-shift pattern with
breaks, and one order per shift. Then it runs the MES derivation once (timed)
and times each KPI query (median of --runs) as an API call would make it:

- ``mes_kpi(line, 30 days)``: the whole period, one row (from the hourly KPI cache,
  filled for the month first, plus live edges, as ``mes_kpi`` reads it since mes 0120);
- ``mes_kpi_live``: the same row from the live timeline alone (``mes_kpi`` before 0120);
- ``mes_kpi(..., 'shift')``, ``'order'``: one row per shift / order;
- ``mes_downtime_pareto``, ``mes_oee_waterfall``.

Target: the period KPI under 200 ms.

    .venv/bin/python bench/kpi.py --days 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLANT = """
site: {name: Bench Brewery, timezone: Europe/Berlin}
areas:
  - id: packaging
    lines:
      - id: line1
        shift_pattern: three-shift
        micro_stop_seconds: 30
        bindings:
          state: {tag: state, codes: {running: [1], fault: [3, 4], changeover: [5]}}
          good_count: {tag: good, bits: 16}
          reject_count: {tag: reject, bits: 16}
        downtime_reasons:
          - {code: jam, name: Jam, category: Mechanical, fault_codes: [4]}
connections:
  - {id: plc, protocol: modbus, host: 127.0.0.1, port: 5020, poll_groups: [{name: default, interval: 1}]}
tags:
  - {name: state, connection: plc, table: holding_register, address: 0, data_type: uint16, heartbeat: 0}
  - {name: good, connection: plc, table: holding_register, address: 1, data_type: uint16}
  - {name: reject, connection: plc, table: holding_register, address: 2, data_type: uint16}
products:
  - {id: lager, ideal_cycle_time: {line1: 0.4}}
shift_patterns:
  - id: three-shift
    shifts:
      - {name: early, start: "06:00", end: "14:00", breaks: [{start: "10:00", minutes: 30}]}
      - {name: late, start: "14:00", end: "22:00", breaks: [{start: "18:00", minutes: 30}]}
      - {name: night, start: "22:00", end: "06:00", breaks: [{start: "02:00", minutes: 30}]}
"""

# One row per second. Cycle c (10 min): running, then a stop of 5..294 s at its end
# whose code cycles fault / jam / changeover. Counters add 2 good per running
# second (1 reject per 100 good) from the start of each day, modulo 2^16.
GENERATE = """
INSERT INTO samples (time, tag_id, value, status)
WITH s AS (
    SELECT %(start)s::timestamptz + make_interval(secs => i) AS time, i,
           CASE WHEN i %% 600 >= 600 - ((i / 600) * 7919 %% 290 + 5) THEN 3 + (i / 600) %% 3 ELSE 1 END AS code
    FROM generate_series(0, %(seconds)s - 1) AS i
), c AS (
    SELECT time, code,
           sum(CASE WHEN code = 1 THEN 2 ELSE 0 END) OVER (PARTITION BY i / 86400 ORDER BY i) AS made
    FROM s
)
SELECT time, tag, value, 0 FROM c,
LATERAL (VALUES (%(state)s, code::double precision),
                (%(good)s, (made %% 65536)::double precision),
                (%(reject)s, ((made / 100) %% 65536)::double precision)) v (tag, value)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="Keep the database in this folder and reuse it next time.")
    args = parser.parse_args()

    import psycopg

    from bench.database import bench_database
    from collectors.config import parse_plant
    from mes.production import derive, orders

    plant = parse_plant(PLANT)
    start = datetime(2026, 2, 1, 5, 0, tzinfo=UTC)  # 06:00 Europe/Berlin
    end = start + timedelta(days=args.days)
    with bench_database(args.keep, "linebrain-bench-kpi-") as (url, fresh), \
            psycopg.connect(url, autocommit=True) as conn:
        if fresh:
            setup(conn, plant, start, end, args.days, derive, orders)
        report(conn, start, end, args)


def setup(conn, plant, start, end, days, derive, orders) -> None:
    from mes.production.sync import sync_plant

    sync_plant(conn, plant, now=start - timedelta(days=1), calendar_days=days + 2)
    ids = dict(conn.execute("SELECT name, id FROM tags").fetchall())
    for shift_no, (_shift_id, lower, upper) in enumerate(conn.execute(
        "SELECT id, lower(period), upper(period) FROM shift_instances WHERE line_id = 'line1' "
        "AND lower(period) >= %s AND upper(period) <= %s ORDER BY lower(period)", (start, end)).fetchall()):
        order = orders.create_order(conn, f"W-{shift_no:04d}", "line1", "lager", 50_000, by="bench")
        orders.transition(conn, order["id"], "running", "bench", at=lower + timedelta(minutes=5))
        orders.transition(conn, order["id"], "completed", "bench", at=upper - timedelta(minutes=5))
    conn.execute("SELECT ensure_sample_partitions(%s, %s)", (start, end))
    t0 = time.perf_counter()
    conn.execute(GENERATE, {"start": start, "seconds": days * 86400, "state": ids["state"], "good": ids["good"],
                            "reject": ids["reject"]})  # fmt: skip
    conn.execute("ANALYZE samples")
    rows = conn.execute("SELECT count(*) FROM samples").fetchone()[0]
    print(f"generated {rows:,} samples ({days} days x 86,400 s x 3 tags) in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    result = derive.run_once(conn, plant, now=end)
    assert not result.errors, result.errors
    took = time.perf_counter() - t0
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM state_intervals), (SELECT count(*) FROM downtime_events), "
        "(SELECT count(*) FROM count_buckets), (SELECT count(*) FROM shift_instances), "
        "(SELECT count(*) FROM order_runs)"
    ).fetchone()
    print(f"derived in {took:.1f} s ({rows / took:,.0f} samples/s): {counts[0]:,} state intervals, "
          f"{counts[1]:,} downtime events, {counts[2]:,} count buckets, {counts[3]} shifts, {counts[4]} order runs")
    conn.execute("ANALYZE")


def report(conn, start, end, args) -> None:
    hours = conn.execute("SELECT grafana.refresh_kpi_hours(2000, %s, %s)", (start, end)).fetchone()[0]
    print(f"KPI cache: {hours} line-hours computed")
    queries = [
        ("mes_kpi, whole period", "SELECT * FROM mes_kpi('line1', %s, %s)"),
        ("mes_kpi_live, whole period", "SELECT * FROM mes_kpi_live('line1', %s, %s)"),
        ("mes_kpi by shift", "SELECT * FROM mes_kpi('line1', %s, %s, 'shift')"),
        ("mes_kpi by order", "SELECT * FROM mes_kpi('line1', %s, %s, 'order')"),
        ("mes_downtime_pareto", "SELECT * FROM mes_downtime_pareto('line1', %s, %s)"),
        ("mes_oee_waterfall", "SELECT * FROM mes_oee_waterfall('line1', %s, %s)"),
    ]
    from bench.machine import describe

    print(f"machine: {describe(f'PostgreSQL {conn.info.server_version // 10000}')}")
    print(f"{'query':<26} {'rows':>6} {'median ms':>10} {'best ms':>8}")
    from psycopg.rows import dict_row

    first = None
    for name, sql in queries:
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            with conn.cursor(row_factory=dict_row) as cur:
                rows = cur.execute(sql, (start, end)).fetchall()
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times)
        first = first if first is not None else (median, rows[0])
        print(f"{name:<26} {len(rows):>6} {median:>10.1f} {min(times):>8.1f}")
    median, row = first
    print(f"{args.days}-day OEE {row['oee']:.3f} = availability {row['availability']:.3f} x effectiveness "
          f"{row['effectiveness']:.3f} x quality {row['quality_ratio']:.3f} (PBT {row['pbt'] / 3600:.0f} h, "
          f"PQ {row['pq']:,.0f})")
    print(f"target: period KPI under 200 ms: {'met' if median < 200 else 'MISSED'} ({median:.0f} ms median)")


if __name__ == "__main__":
    main()
