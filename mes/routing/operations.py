"""Orders that carry a routing: one operation order per routing step, and the bundles the order
is cut into.

A routed order is an ordinary work order (:mod:`mes.production.orders`: number, line, product,
plan, lifecycle) plus its routing version and the operation orders copied from it, so an order
made today keeps its steps when the routing changes tomorrow. Single-line orders have no routing
and work as before.
"""

from __future__ import annotations

import math
from datetime import datetime

import psycopg

from mes.bounds import check_number
from mes.db import first, rows
from mes.errors import InvalidInput, NotFound
from mes.production import orders
from mes.routing.routings import get_routing, latest_routing

OPERATION_COLUMNS = "id, order_id, seq, name, work_centre_id, sam_minutes, setup_minutes, after_seqs"


def create_routed_order(conn: psycopg.Connection, number: str, line_id: str, product_id: str,
                        planned_quantity: float, by: str, due_at: datetime | None = None, note: str = "",
                        routing_id: int | None = None) -> dict:  # fmt: skip
    """A new order (status planned) on the product's routing: the given version, or the newest."""
    routing = get_routing(conn, routing_id) if routing_id is not None else latest_routing(conn, product_id)
    if routing["product_id"] != product_id:
        raise InvalidInput(f"routing {routing['id']} is for product {routing['product_id']!r}, not {product_id!r}",
                           field="routing_id")  # fmt: skip
    with conn.transaction():
        order = orders.create_order(conn, number, line_id, product_id, planned_quantity, by, due_at, note)
        conn.execute("UPDATE work_orders SET routing_id = %s WHERE id = %s", (routing["id"], order["id"]))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO operation_orders (order_id, seq, name, work_centre_id, sam_minutes, setup_minutes, "
                "after_seqs) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(order["id"], op["seq"], op["name"], op["work_centre_id"], op["sam_minutes"], op["setup_minutes"],
                  op["after_seqs"]) for op in routing["operations"]],
            )  # fmt: skip
    return routed_order(conn, order["id"])


def routed_order(conn: psycopg.Connection, order_id: int) -> dict:
    """The order with its routing version and operation orders (an empty list: a single-line order)."""
    order = orders.get_order(conn, order_id)
    head = first(conn, "SELECT w.routing_id, r.version AS routing_version FROM work_orders w "
                       "LEFT JOIN routings r ON r.id = w.routing_id WHERE w.id = %s", (order_id,))  # fmt: skip
    assert head is not None
    return {**order, **head, "operations": operation_orders(conn, order_id)}


def operation_orders(conn: psycopg.Connection, order_id: int) -> list[dict]:
    return rows(conn, f"SELECT {OPERATION_COLUMNS} FROM operation_orders WHERE order_id = %s ORDER BY seq",
                (order_id,))  # fmt: skip


def get_operation(conn: psycopg.Connection, operation_id: int) -> dict:
    row = first(conn, f"SELECT {OPERATION_COLUMNS} FROM operation_orders WHERE id = %s", (operation_id,))
    if row is None:
        raise NotFound(f"no operation order {operation_id}", field="operation_id")
    return row


def routed_orders(conn: psycopg.Connection, limit: int = 100) -> list[dict]:
    """Orders that carry a routing, newest first."""
    return rows(
        conn,
        "SELECT w.id, w.number, w.product_id, w.line_id, w.planned_quantity, w.due_at, w.status, "
        "r.version AS routing_version FROM work_orders w JOIN routings r ON r.id = w.routing_id "
        "ORDER BY w.id DESC LIMIT %s",
        (limit,),
    )


def cut_bundles(conn: psycopg.Connection, order_id: int, quantity: int, bundle_size: int, by: str,
                size: str = "", colour: str = "", at: datetime | None = None) -> list[dict]:  # fmt: skip
    """Cut ``quantity`` pieces of the order into bundles of ``bundle_size`` (the last one holds the
    rest), each with a ticket code ``<order number>-<n>`` numbered on from the order's earlier
    bundles. ``at`` is when they were cut (default now): from then they wait at the first operation."""
    quantity = int(check_number(quantity, "quantity", low=1, high=1_000_000))
    bundle_size = int(check_number(bundle_size, "bundle_size", low=1, high=10_000))
    order = routed_order(conn, order_id)
    if not order["operations"]:
        raise InvalidInput(f"order {order['number']} has no routing: bundles follow a routing", field="order_id")
    with conn.transaction():
        conn.execute("SELECT 1 FROM work_orders WHERE id = %s FOR UPDATE", (order_id,))
        done = conn.execute("SELECT count(*) FROM bundles WHERE order_id = %s", (order_id,)).fetchone()
        assert done is not None
        sizes = [bundle_size] * (quantity // bundle_size) + ([quantity % bundle_size] if quantity % bundle_size else [])
        made = []
        for n, pieces in enumerate(sizes, start=int(done[0]) + 1):
            made.append(first(
                conn,
                "INSERT INTO bundles (order_id, code, quantity, size, colour, created_by, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now())) "
                "RETURNING id, order_id, code, quantity, size, colour, created_at",
                (order_id, f"{order['number']}-{n:0{max(3, int(math.log10(n)) + 1)}d}", pieces, size, colour, by, at),
            ))  # fmt: skip
    return [bundle for bundle in made if bundle is not None]


def bundles(conn: psycopg.Connection, order_id: int) -> list[dict]:
    return rows(conn, "SELECT id, order_id, code, quantity, size, colour, created_at FROM bundles "
                      "WHERE order_id = %s ORDER BY id", (order_id,))  # fmt: skip
