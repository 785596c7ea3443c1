"""The hourly KPI cache gives mes_kpi()'s numbers, before and after it is filled, and after a correction."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from mes.production.counts import adjust_count
from tests.mes.grafana.conftest import GrafanaDatabase

COMPARED = ("pbt", "apt", "pq", "gq", "sq", "availability", "effectiveness", "quality_ratio", "oee")


def _by_group(conn: psycopg.Connection, sql: str, args: tuple) -> dict[str, tuple]:
    columns = ", ".join(COMPARED)
    return {row[0]: row[1:] for row in conn.execute(f"SELECT group_key, {columns} FROM {sql}", args)}


def assert_same_as_mes_kpi(conn: psycopg.Connection, db: GrafanaDatabase, group: str) -> None:
    start, end = db.start + timedelta(minutes=7), db.end - timedelta(minutes=3)
    ours = _by_group(conn, "grafana.kpi('line1', %s, %s, %s)", (start, end, group))
    theirs = _by_group(conn, "mes_kpi('line1', %s, %s, %s)", (start, end, group))
    assert ours.keys() == theirs.keys()
    for key, values in theirs.items():
        assert ours[key] == pytest.approx(values, rel=1e-9, abs=1e-9, nan_ok=True), (group, key)


@pytest.mark.parametrize("group", ["period", "product", "order"])
def test_kpi_equals_mes_kpi_uncached_cached_and_after_a_correction(group: str, grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("DELETE FROM grafana.kpi_hours_done")
        assert_same_as_mes_kpi(conn, grafana_db, group)
        assert conn.execute("SELECT grafana.refresh_kpi_hours()").fetchone()[0] > 0
        assert conn.execute("SELECT count(*) FROM grafana.kpi_hours_done").fetchone()[0] >= 2
        assert_same_as_mes_kpi(conn, grafana_db, group)
        adjust_count(conn, "line1", "reject", grafana_db.start + timedelta(minutes=75), 40.0,
                     why="crate dropped at the packer", by="supervisor")  # fmt: skip
        assert conn.execute("SELECT count(*) FROM grafana.kpi_dirty").fetchone()[0] > 0
        assert_same_as_mes_kpi(conn, grafana_db, group)
        conn.execute("SELECT grafana.refresh_kpi_hours()")
        assert conn.execute("SELECT count(*) FROM grafana.kpi_dirty").fetchone()[0] == 0
        assert_same_as_mes_kpi(conn, grafana_db, group)


def test_a_growing_state_tail_marks_only_the_new_stretch(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("DELETE FROM grafana.kpi_dirty")
        last = conn.execute("SELECT id, upper(period) FROM state_intervals WHERE equipment_id = 'line1' "
                            "ORDER BY lower(period) DESC LIMIT 1").fetchone()  # fmt: skip
        conn.execute("UPDATE state_intervals SET period = tstzrange(lower(period), upper(period) + interval '5 s') "
                     "WHERE id = %s", (last[0],))  # fmt: skip
        marked = conn.execute("SELECT lower(period), upper(period) FROM grafana.kpi_dirty").fetchall()
        conn.execute("UPDATE state_intervals SET period = tstzrange(lower(period), %s) WHERE id = %s", last[::-1])
    assert marked == [(last[1], last[1] + timedelta(seconds=5))]


def test_counts_and_micro_stops_from_the_cache_add_up_to_the_live_timeline(grafana_db: GrafanaDatabase) -> None:
    """Over two days a panel reads hourly cache buckets; its totals are the minute-level ones."""
    long_from = grafana_db.start - timedelta(days=2, hours=1)
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("SELECT grafana.refresh_kpi_hours()")
        args = ("line1", long_from, grafana_db.end, 60_000, "all")
        live = conn.execute("SELECT sum(good), sum(plan) FROM grafana.line_counts_live(%s, %s, %s, %s, %s)",
                            args).fetchone()  # fmt: skip
        cached = conn.execute("SELECT sum(good), sum(plan), count(*) FROM grafana.line_counts(%s, %s, %s, %s, %s)",
                              ("line1", long_from, grafana_db.end, 60_000, "all")).fetchone()  # fmt: skip
        stops_live = conn.execute("SELECT sum(stops) FROM grafana.micro_stops_live(%s, %s, %s, %s, %s)",
                                  args).fetchone()  # fmt: skip
        stops_cached = conn.execute("SELECT sum(stops), count(*) FROM grafana.micro_stops(%s, %s, %s, %s, %s)",
                                    ("line1", long_from, grafana_db.end, 60_000, "all")).fetchone()  # fmt: skip
    assert cached[2] < 100  # hourly buckets, not minutes
    assert cached[0] == pytest.approx(live[0])
    assert cached[1] == pytest.approx(live[1], rel=1e-6)
    assert stops_cached[0] == stops_live[0]  # a stop across an hour is counted once, where it starts


def test_order_kpis_over_whole_hours_equal_the_order_span(grafana_db: GrafanaDatabase) -> None:
    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("SELECT grafana.refresh_kpi_hours()")
        for order_id, first, last in conn.execute(
            "SELECT order_id, min(lower(period)), max(coalesce(upper(period), now())) FROM order_runs GROUP BY 1"
        ).fetchall():
            theirs = conn.execute("SELECT gq_total, oee FROM mes_kpi('line1', %s, %s, 'order') WHERE group_key = %s",
                                  (first, last, str(order_id))).fetchone()  # fmt: skip
            ours = conn.execute("SELECT gq_total, oee FROM grafana.order_kpi(%s)", (order_id,)).fetchone()
            assert ours == pytest.approx(theirs, rel=1e-4), order_id  # the running one ends at now()


async def test_the_run_job_fills_the_cache(grafana_db: GrafanaDatabase) -> None:
    import asyncio

    from mes.grafana.cache import kpi_cache_job

    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("DELETE FROM grafana.kpi_hours_done")
    def hours_done() -> int:
        with psycopg.connect(grafana_db.url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM grafana.kpi_hours_done").fetchone()[0]

    stop = asyncio.Event()
    task = asyncio.create_task(kpi_cache_job(grafana_db.url, every_s=0.05)(stop))
    try:
        async with asyncio.timeout(30):  # until the job has filled the cache, not a fixed second
            while hours_done() < 2 and not task.done():
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert hours_done() >= 2


def test_a_config_sync_keeps_the_cache_and_a_changed_cycle_time_recomputes_the_line(
    grafana_db: GrafanaDatabase,
) -> None:
    from mes.production.sync import sync_plant
    from tests.mes.grafana.plant_data import PLANT, load_plant

    with psycopg.connect(grafana_db.url, autocommit=True) as conn:
        conn.execute("SELECT grafana.refresh_kpi_hours()")
        done = conn.execute("SELECT count(*) FROM grafana.kpi_hours_done").fetchone()[0]
        sync_plant(conn, load_plant(PLANT))  # rewrites equipment rows and cycle times, same values
        assert conn.execute("SELECT grafana._kpi_cache_trusted('line1')").fetchone()[0]
        conn.execute("UPDATE product_cycle_times SET ideal_cycle_time = 0.09 WHERE line_id = 'line1'")
        try:
            assert not conn.execute("SELECT grafana._kpi_cache_trusted('line1')").fetchone()[0]
            assert_same_as_mes_kpi(conn, grafana_db, "period")  # all live meanwhile
            assert conn.execute("SELECT grafana.refresh_kpi_hours()").fetchone()[0] >= done
            assert_same_as_mes_kpi(conn, grafana_db, "period")
        finally:
            conn.execute("UPDATE product_cycle_times SET ideal_cycle_time = 0.1 WHERE line_id = 'line1'")
            conn.execute("SELECT grafana.refresh_kpi_hours()")
