"""Bench: server time of the line page and the manager OEE page with a year of 1 s data for 20 lines.

What is generated (honestly): one day of one-second samples for ``line01`` (state, good and reject
counters, the pattern of bench/kpi.py: a stop of 5..294 s in every 10-minute cycle, faults, jams
and changeovers) is generated in SQL and run through the real MES derivation. The derived rows of
that day — state intervals, downtime events, automatic reason assignments, count buckets — are
then copied in SQL (generate_series over days x lines) to 365 days of 20 lines, which is what the
derivation of 1 s samples would have written (the pages read only the derived tables; 1.9 billion
raw samples would not fit this machine's disk and time). Every line has a three-shift calendar
with breaks for the year and one order per shift. A 21st line, ``fresh``, has only the last day:
the baseline, measured in the same run against the same database and server.

Each page is requested in-process through the ASGI app (Starlette's TestClient: routing, the
domain calls, the database and the template rendering, no network), rotating over the lines, on
a fixed clock (the last day, 11:00 plant time). Printed: median, p95 and max per page.

    .venv/bin/python bench/pages.py --requests 40
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINES = [f"line{n:02d}" for n in range(1, 21)]
BASELINE = "fresh"
TIMEZONE = "Asia/Shanghai"
DAYS = 365
# A year that ended before the bench runs, so the hourly KPI cache (refreshed up to the wall
# clock, as ``linebrain run`` does every minute) can hold its last weeks.
START = datetime(2025, 12, 1, tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)
NOW = datetime(2026, 11, 30, 11, 0, tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)
CACHED_DAYS = 35  # the cache holds at least the month (and week, and day) the OEE page shows
TARGET_MS = 150.0


def plant_yaml() -> str:
    lines, tags = [], []
    for n, line in enumerate([*LINES, BASELINE]):
        lines.append(f"""
      - id: {line}
        name: Line {line}
        shift_pattern: three-shift
        micro_stop_seconds: 30
        bindings:
          state: {{tag: {line}_state, codes: {{running: [1], fault: [3, 4], changeover: [5]}}}}
          good_count: {{tag: {line}_good, bits: 16}}
          reject_count: {{tag: {line}_reject, bits: 16}}
        downtime_reasons:
          - {{code: jam, name: Jam, category: Mechanical, fault_codes: [4]}}
          - {{code: motor, name: Motor fault, category: Electrical, fault_codes: [3]}}
          - {{code: setup, name: Product change, category: Setup, time_element: AUST, loss: setup}}""")
        for k, kind in enumerate(("state", "good", "reject")):
            tags.append(f"  - {{name: {line}_{kind}, connection: plc, table: holding_register, "
                        f"address: {n * 3 + k}, data_type: uint16, heartbeat: 0}}")
    cycle = "\n".join(f"      {line}: 0.4" for line in [*LINES, BASELINE])
    return f"""
site: {{name: Bench Plant, timezone: {TIMEZONE}}}
areas:
  - id: packaging
    lines:{"".join(lines)}
connections:
  - {{id: plc, protocol: modbus, host: 127.0.0.1, port: 5020, poll_groups: [{{name: default, interval: 1}}]}}
tags:
{chr(10).join(tags)}
products:
  - id: lager
    ideal_cycle_time:
{cycle}
  - id: ale
    ideal_cycle_time:
{cycle}
shift_patterns:
  - id: three-shift
    shifts:
      - {{name: early, start: "06:00", end: "14:00", breaks: [{{start: "10:00", minutes: 30}}]}}
      - {{name: late, start: "14:00", end: "22:00", breaks: [{{start: "18:00", minutes: 30}}]}}
      - {{name: night, start: "22:00", end: "06:00", breaks: [{{start: "02:00", minutes: 30}}]}}
"""


# One day of 1 s samples of line01 (bench/kpi.py's pattern): cycle c (10 min) runs, then stops
# 5..294 s at its end with a code cycling fault / jam / changeover; 2 good per running second,
# 1 reject per 100 good, counters from 0 at the start of the day.
SAMPLES = """
INSERT INTO samples (time, tag_id, value, status)
WITH s AS (
    SELECT %(start)s::timestamptz + make_interval(secs => i) AS time, i,
           CASE WHEN i %% 600 >= 600 - ((i / 600) * 7919 %% 290 + 5) THEN 3 + (i / 600) %% 3 ELSE 1 END AS code
    FROM generate_series(0, 86399) AS i
), c AS (
    SELECT time, code, sum(CASE WHEN code = 1 THEN 2 ELSE 0 END) OVER (ORDER BY i) AS made FROM s
)
SELECT time, tag, value, 0 FROM c,
LATERAL (VALUES (%(state)s, code::double precision), (%(good)s, made::double precision),
                (%(reject)s, (made / 100)::double precision)) v (tag, value)
"""

# The derived day of line01, copied to (line, day) with the time shifted by whole days (no DST in
# Asia/Shanghai, so the shift calendar repeats exactly) and cut at the bench's "now".
COPY_STATES = """
INSERT INTO state_intervals (equipment_id, period, state, raw_code, fault_code)
SELECT %(line)s, tstzrange(lower(t.period) + d * interval '1 day', upper(t.period) + d * interval '1 day')
                 * tstzrange(NULL, %(now)s), t.state, t.raw_code, t.fault_code
FROM bench_states t CROSS JOIN generate_series(%(first)s::int, %(last)s::int) d
WHERE lower(t.period) + d * interval '1 day' < %(now)s
"""
COPY_EVENTS = """
WITH copied AS (
    INSERT INTO downtime_events (equipment_id, line_id, period, kind, state, fault_code, source)
    SELECT %(line)s, %(line)s, tstzrange(lower(t.period) + d * interval '1 day',
                                         upper(t.period) + d * interval '1 day') * tstzrange(NULL, %(now)s),
           t.kind, t.state, t.fault_code, 'derived'
    FROM bench_events t CROSS JOIN generate_series(%(first)s::int, %(last)s::int) d
    WHERE lower(t.period) + d * interval '1 day' < %(now)s
    RETURNING id, fault_code, lower(period) AS at
)
INSERT INTO downtime_assignments (event_id, line_id, reason_code, automatic, by_user, at)
SELECT id, %(line)s, CASE fault_code WHEN 4 THEN 'jam' ELSE 'motor' END, true, 'derivation', at
FROM copied WHERE fault_code IN (3, 4)
"""
COPY_COUNTS = """
INSERT INTO count_buckets (equipment_id, cut_end, good, reject, total, energy, rework)
SELECT %(line)s, t.cut_end + d * interval '1 day', t.good, t.reject, t.total, t.energy, t.rework
FROM bench_counts t CROSS JOIN generate_series(%(first)s::int, %(last)s::int) d
WHERE t.cut_end + d * interval '1 day' <= %(now)s
"""
# One order per shift, running from 5 min after its start to 5 min before its end (cut at now),
# lager on early and late shifts, ale at night; due at the shift's end.
ORDERS = """
INSERT INTO work_orders (number, line_id, product_id, planned_quantity, due_at, status, created_by, created_at)
SELECT line_id || '-' || id, line_id, CASE name WHEN 'night' THEN 'ale' ELSE 'lager' END, 50000, upper(period),
       CASE WHEN upper(period) - interval '5 minutes' <= %(now)s THEN 'completed' ELSE 'running' END,
       'bench', lower(period)
FROM shift_instances WHERE lower(period) + interval '5 minutes' < %(now)s
"""
ORDER_RUNS = """
INSERT INTO order_runs (order_id, line_id, period)
SELECT w.id, s.line_id, tstzrange(lower(s.period) + interval '5 minutes',
                                  CASE WHEN w.status = 'completed' THEN upper(s.period) - interval '5 minutes' END)
FROM shift_instances s JOIN work_orders w ON w.number = s.line_id || '-' || s.id
"""
ORDER_TRANSITIONS = """
INSERT INTO work_order_transitions (order_id, from_status, to_status, at, by_user)
SELECT r.order_id, 'planned', 'running', lower(r.period), 'bench' FROM order_runs r
UNION ALL
SELECT r.order_id, 'running', 'completed', upper(r.period), 'bench' FROM order_runs r WHERE NOT upper_inf(r.period)
"""
COPIED_TABLES = ("state_intervals", "downtime_events", "downtime_assignments", "count_buckets", "order_runs",
                 "work_orders")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per page")
    parser.add_argument("--keep", type=Path, help="Keep the database in this folder and reuse it next time.")
    parser.add_argument("--pages", default=",".join(PAGES), help=f"which pages, of {','.join(PAGES)}")
    args = parser.parse_args()

    import psycopg

    from bench.database import bench_database

    with bench_database(args.keep, "linebrain-bench-pages-") as (url, fresh):
        with psycopg.connect(url, autocommit=True) as conn:
            if fresh:
                generate(conn)
            # Also for a kept database: a migration may have emptied the cache (mes 0120 did), which
            # `linebrain run` would refill within minutes; the pages are measured with it filled.
            t0 = time.perf_counter()
            hours = fill_kpi_cache(conn)
            print(f"hourly KPI cache (what `linebrain run` refreshes every minute) filled back to {CACHED_DAYS} "
                  f"days before 'now': {hours:,} line-hours refreshed in {time.perf_counter() - t0:.1f} s")
        measure(url, args.requests, [PAGES[name] for name in args.pages.split(",")])


def generate(conn) -> None:
    from collectors.config import parse_plant
    from mes.production import derive
    from mes.production.shifts import ensure_calendar
    from mes.production.sync import sync_plant

    plant = parse_plant(plant_yaml())
    sync_plant(conn, plant, now=START + timedelta(days=1))
    ids = dict(conn.execute("SELECT name, id FROM tags WHERE name LIKE 'line01_%'").fetchall())
    conn.execute("SELECT ensure_sample_partitions(%s, %s)", (START, START + timedelta(days=1)))
    t0 = time.perf_counter()
    conn.execute(SAMPLES, {"start": START, "state": ids["line01_state"], "good": ids["line01_good"],
                           "reject": ids["line01_reject"]})  # fmt: skip
    report = derive.run_once(conn, plant, now=START + timedelta(days=1), only={"line01"})
    assert not report.errors, report.errors
    print(f"one day of 1 s samples of line01 (259,200) generated and derived in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with conn.transaction():  # after the derivation: its config sync rebuilds only a week ahead
        ensure_calendar(conn, plant, START.astimezone(ZoneInfo(TIMEZONE)).date(),
                        NOW.astimezone(ZoneInfo(TIMEZONE)).date() + timedelta(days=1))
    print(f"{DAYS}-day shift calendar of {len(LINES) + 1} lines in {time.perf_counter() - t0:.1f} s")
    day = "tstzrange(%(start)s, %(start)s + interval '1 day')"
    params = {"start": START}
    conn.execute(f"CREATE TABLE bench_states AS SELECT * FROM state_intervals WHERE period && {day}", params)
    conn.execute(f"UPDATE bench_states SET period = period * {day}", params)
    conn.execute(f"CREATE TABLE bench_events AS SELECT * FROM downtime_events WHERE period && {day}", params)
    conn.execute(f"UPDATE bench_events SET period = period * {day}", params)
    conn.execute("CREATE TABLE bench_counts AS SELECT * FROM count_buckets WHERE cut_end > %(start)s "
                 "AND cut_end <= %(start)s + interval '1 day'", params)  # fmt: skip
    for table in ("downtime_assignments", "downtime_events", "state_intervals", "count_buckets",
                  "data_quality_events", "derive_watermarks"):
        conn.execute(f"DELETE FROM {table}")
    for table in COPIED_TABLES:  # the Grafana cache's change log would note every copied row
        conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    t0 = time.perf_counter()
    for line in [*LINES, BASELINE]:
        span = {"line": line, "now": NOW, "first": DAYS - 1 if line == BASELINE else 0, "last": DAYS - 1}
        for sql in (COPY_STATES, COPY_EVENTS, COPY_COUNTS):
            conn.execute(sql, span)
    for sql in (ORDERS, ORDER_RUNS, ORDER_TRANSITIONS):
        conn.execute(sql, {"now": NOW})
    for table in COPIED_TABLES:
        conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    conn.execute("DROP TABLE bench_states, bench_events, bench_counts")
    conn.execute("VACUUM ANALYZE")
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM state_intervals), (SELECT count(*) FROM downtime_events), "
        "(SELECT count(*) FROM count_buckets), (SELECT count(*) FROM shift_instances), "
        "(SELECT count(*) FROM work_orders)").fetchone()  # fmt: skip
    print(f"copied to {DAYS} days x {len(LINES)} lines (+1 day of '{BASELINE}') in {time.perf_counter() - t0:.1f} s: "
          f"{counts[0]:,} state intervals, {counts[1]:,} downtime events, {counts[2]:,} count buckets, "
          f"{counts[3]:,} shifts, {counts[4]:,} orders")


def fill_kpi_cache(conn) -> int:
    """Refresh the hourly KPI cache, newest hours first, until it reaches back CACHED_DAYS before NOW."""
    from mes.grafana.cache import refresh_kpi_hours

    done = 0
    while True:
        done += refresh_kpi_hours(conn, 1000)
        oldest = conn.execute("SELECT min(hour) FROM grafana.kpi_hours_done WHERE line_id = %s",
                              (LINES[-1],)).fetchone()[0]  # fmt: skip
        if oldest is not None and oldest <= NOW - timedelta(days=CACHED_DAYS):
            return done


PAGES = {
    "line": ("line page", "/lines/{line}"),
    "today": ("OEE page, today (default)", "/oee?line={line}"),
    "week": ("OEE page, this week", "/oee?line={line}&period=week"),
    "month": ("OEE page, this month", "/oee?line={line}&period=month"),
}  # name: (label, path with {line})


def measure(url: str, requests: int, pages: list[tuple[str, str]]) -> None:
    import psycopg
    from fastapi.testclient import TestClient

    from bench.machine import describe
    from collectors.config.models import Web
    from mes.api import create_app

    app = create_app(url, web=Web(anonymous_read=True))
    app.state.clock = lambda: NOW
    with psycopg.connect(url) as conn:
        version = conn.info.server_version // 10000
    print(f"machine: {describe(f'PostgreSQL {version}')}")
    print(f"{'page':<28} {'lines':<22} {'median ms':>9} {'p95 ms':>7} {'max ms':>7}")
    with TestClient(app, base_url="http://localhost") as client:
        for name, path in pages:
            for label, lines in ((f"20 lines x {DAYS} days", LINES), (f"'{BASELINE}': 1 day", [BASELINE])):
                times = timed(client, path, lines, requests)
                p95 = percentile(times, 95)
                flag = "" if p95 < TARGET_MS else "  (over the target)"
                print(f"{name:<28} {label:<22} {statistics.median(times):>9.1f} {p95:>7.1f} {max(times):>7.1f}{flag}")


def timed(client, path: str, lines: list[str], requests: int) -> list[float]:
    headers = {"accept": "text/html"}
    for line in lines[:2]:  # warm: the template compiled, the connection pool open
        client.get(path.format(line=line), headers=headers)
    times = []
    for n in range(requests):
        t0 = time.perf_counter()
        response = client.get(path.format(line=lines[n % len(lines)]), headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[rank]


if __name__ == "__main__":
    main()
