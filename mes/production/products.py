"""Products and their ideal cycle time (PRU, seconds per unit) per line."""

from __future__ import annotations

import psycopg

from collectors.config.models import Plant
from mes.db import rows


def sync_products(conn: psycopg.Connection, plant: Plant) -> None:
    """Upsert the config's products and cycle times; products dropped from the config stay
    (orders point at them) but are marked inactive. Products and cycle times added on the admin
    page (``source = 'page'``, :mod:`mes.production.master_data`) are left alone unless the config
    names the same one, which then takes it over."""
    lines = {line.id for line in plant.lines()}
    with conn.cursor() as cur:
        for product in plant.products:
            cur.execute(
                "INSERT INTO products (id, name, unit, active) VALUES (%s, %s, %s, true) "
                "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit, active = true, "
                "source = 'config'",
                (product.id, product.name, product.unit),
            )
            cur.execute("DELETE FROM product_cycle_times WHERE product_id = %s AND source = 'config'", (product.id,))
            cur.executemany(
                "INSERT INTO product_cycle_times (product_id, line_id, ideal_cycle_time) VALUES (%s, %s, %s) "
                "ON CONFLICT (product_id, line_id) DO UPDATE SET ideal_cycle_time = EXCLUDED.ideal_cycle_time, "
                "source = 'config'",
                [(product.id, line, seconds) for line, seconds in product.ideal_cycle_time.items() if line in lines],
            )
        cur.execute("UPDATE products SET active = false WHERE NOT (id = ANY(%s)) AND source = 'config'",
                    ([p.id for p in plant.products],))


def list_products(conn: psycopg.Connection) -> list[dict]:
    """Products with their cycle times as ``{line: seconds}``."""
    return rows(
        conn,
        "SELECT p.id, p.name, p.unit, p.active, p.source, "
        "coalesce(jsonb_object_agg(c.line_id, c.ideal_cycle_time) FILTER (WHERE c.line_id IS NOT NULL), "
        "'{}'::jsonb) AS ideal_cycle_time, "
        "coalesce(jsonb_object_agg(c.line_id, c.source) FILTER (WHERE c.line_id IS NOT NULL), "
        "'{}'::jsonb) AS cycle_time_source "
        "FROM products p LEFT JOIN product_cycle_times c ON c.product_id = p.id GROUP BY p.id ORDER BY p.id"
    )
