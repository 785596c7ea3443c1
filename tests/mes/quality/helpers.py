"""Rows of the production core a quality test stands on: a line, a product, orders and their runs.

Written straight into the production core's tables (mes/sql/0001_production_model.sql)
so quality tests do not depend on how orders are started.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

T0 = datetime.fromisoformat("2026-03-02T06:00:00+00:00")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_line(db: psycopg.Connection, line: str = "L1", product: str = "P1", pru: float = 1.0) -> None:
    db.execute("INSERT INTO equipment (id, level, name) VALUES ('site', 'site', 'Site') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO equipment (id, parent_id, level, name, line_id) VALUES (%s, 'site', 'line', %s, %s)",
               (line, line, line))
    db.execute("INSERT INTO products (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (product, product))
    db.execute("INSERT INTO product_cycle_times (product_id, line_id, ideal_cycle_time) VALUES (%s, %s, %s)",
               (product, line, pru))
    # one long shift so everything is inside planned busy time
    db.execute("INSERT INTO shift_instances (line_id, name, local_date, period) VALUES (%s, 'day', %s, "
               "tstzrange(%s, %s))", (line, T0.date(), at(-60), at(24 * 60)))


def make_order(
    db: psycopg.Connection, number: str, start: datetime, end: datetime | None, line: str = "L1", product: str = "P1"
) -> int:
    """An order that ran from ``start`` to ``end`` (None: still running)."""
    status = "running" if end is None else "completed"
    order_id = db.execute(
        "INSERT INTO work_orders (number, line_id, product_id, planned_quantity, status, created_by) "
        "VALUES (%s, %s, %s, 1000, %s, 'test') RETURNING id",
        (number, line, product, status),
    ).fetchone()[0]
    db.execute("INSERT INTO order_runs (order_id, line_id, period) VALUES (%s, %s, tstzrange(%s, %s))",
               (order_id, line, start, end))
    return order_id


def make_tag(db: psycopg.Connection, name: str) -> int:
    return db.execute(
        "INSERT INTO tags (name, connection, data_type, unit) VALUES (%s, 'sim', 'float32', 'degC') "
        "ON CONFLICT (name) DO UPDATE SET active = true RETURNING id",
        (name,),
    ).fetchone()[0]


def write_samples(db: psycopg.Connection, tag: str, series: list[tuple[datetime, float]], status: int = 0) -> None:
    tag_id = make_tag(db, tag)
    db.execute("SELECT ensure_sample_partitions(%s, %s)", (series[0][0], series[-1][0]))
    with db.cursor() as cur:
        cur.executemany("INSERT INTO samples (time, tag_id, value, status) VALUES (%s, %s, %s, %s)",
                        [(t, tag_id, v, status) for t, v in series])


def count(db: psycopg.Connection, line: str, cut_end: datetime, good: float, reject: float = 0) -> None:
    db.execute("INSERT INTO count_buckets (equipment_id, cut_end, good, reject, total) VALUES (%s, %s, %s, %s, %s)",
               (line, cut_end, good, reject, good + reject))
