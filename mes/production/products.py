"""Products and their ideal cycle time (PRU, seconds per unit) per line."""

from __future__ import annotations

import psycopg

from collectors.config.models import Plant
from mes.db import rows


def sync_products(conn: psycopg.Connection, plant: Plant) -> None:
    """Upsert the config's products and cycle times; products dropped from the config stay
    (orders point at them) but are marked inactive."""
    lines = {line.id for line in plant.lines()}
    with conn.cursor() as cur:
        for product in plant.products:
            cur.execute(
                "INSERT INTO products (id, name, unit, active) VALUES (%s, %s, %s, true) "
                "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, unit = EXCLUDED.unit, active = true",
                (product.id, product.name, product.unit),
            )
            cur.execute("DELETE FROM product_cycle_times WHERE product_id = %s", (product.id,))
            cur.executemany(
                "INSERT INTO product_cycle_times (product_id, line_id, ideal_cycle_time) VALUES (%s, %s, %s)",
                [(product.id, line, seconds) for line, seconds in product.ideal_cycle_time.items() if line in lines],
            )
        cur.execute("UPDATE products SET active = false WHERE NOT (id = ANY(%s))", ([p.id for p in plant.products],))


def list_products(conn: psycopg.Connection) -> list[dict]:
    """Products with their cycle times as ``{line: seconds}``."""
    return rows(
        conn,
        "SELECT p.id, p.name, p.unit, p.active, "
        "coalesce(jsonb_object_agg(c.line_id, c.ideal_cycle_time) FILTER (WHERE c.line_id IS NOT NULL), "
        "'{}'::jsonb) AS ideal_cycle_time "
        "FROM products p LEFT JOIN product_cycle_times c ON c.product_id = p.id GROUP BY p.id ORDER BY p.id"
    )
