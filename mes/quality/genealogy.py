"""Lots and genealogy: which lots went into which, traced forward and backward.

A lot is produced by a work order (with its quantity and the time window it
was made in) or received as material (with its supplier lot). Links record
consumption (material into product), splits (one lot into several) and merges
(several into one). Traces are one recursive query each:

- forward: everything that was made from a lot (which finished lots used
  supplier lot L?) — the recall question;
- backward: everything that went into a lot, with, for each lot made here,
  the process values of its bound tags and the excursions recorded while it
  was being made — the root-cause question.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import psycopg
from pydantic import Field

from mes.bounds import BigId, PositiveQuantity, Quantity
from mes.quality.db import one, rows
from mes.quality.errors import NotFound, QualityError
from mes.quality.models import AwareDatetime, QualityInput

Direction = Literal["forward", "backward"]


class LotIn(QualityInput):
    """A lot to register."""

    code: str = Field(min_length=1, max_length=120)
    kind: Literal["produced", "material"] = "produced"
    product: str = ""
    work_order_id: BigId | None = None
    line_id: str | None = None
    quantity: Quantity = 0
    unit: str = "pcs"
    supplier: str | None = None
    supplier_lot: str | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    created_by: str = ""


class SplitPart(QualityInput):
    code: str = Field(min_length=1, max_length=120)
    quantity: PositiveQuantity


def create_lot(conn: psycopg.Connection, lot: LotIn) -> dict[str, Any]:
    """Register a lot. A produced lot of an order takes the order's line and product when not given."""
    product, line_id = lot.product, lot.line_id
    if lot.work_order_id is not None:
        order = one(conn, "SELECT line_id, product_id FROM work_orders WHERE id = %s", (lot.work_order_id,),
                    what=f"work order {lot.work_order_id}")
        product = product or order["product_id"]
        line_id = line_id or order["line_id"]
    if lot.started_at and lot.ended_at and lot.started_at > lot.ended_at:
        raise QualityError("lot: started_at must not be after ended_at")
    if rows(conn, "SELECT 1 FROM lots WHERE code = %s", (lot.code,)):
        raise QualityError(f"lot {lot.code!r} already exists")
    return one(
        conn,
        """
        INSERT INTO lots (code, kind, product, work_order_id, line_id, quantity, unit, supplier, supplier_lot,
                          started_at, ended_at, created_by)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
        """,
        (lot.code, lot.kind, product, lot.work_order_id, line_id, lot.quantity, lot.unit, lot.supplier,
         lot.supplier_lot, lot.started_at, lot.ended_at, lot.created_by),
    )  # fmt: skip


def get_lot(conn: psycopg.Connection, code: str) -> dict[str, Any]:
    """A lot by its code, or by its supplier's lot number when that names exactly one received lot."""
    found = rows(conn, "SELECT * FROM lots WHERE code = %s", (code,))
    if found:
        return found[0]
    by_supplier = rows(conn, "SELECT * FROM lots WHERE supplier_lot = %s ORDER BY id", (code,))
    if len(by_supplier) > 1:
        raise QualityError(f"supplier lot {code!r} was received as {len(by_supplier)} lots "
                           f"({', '.join(lot['code'] for lot in by_supplier)}): give one of their codes")
    if not by_supplier:
        raise NotFound(f"lot {code!r} not found")
    return by_supplier[0]


def recent_lots(conn: psycopg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest lots (produced and received), with the number of their order, newest first."""
    return rows(conn, "SELECT l.*, o.number AS work_order_number FROM lots l "
                      "LEFT JOIN work_orders o ON o.id = l.work_order_id ORDER BY l.id DESC LIMIT %s", (limit,))


def consume(
    conn: psycopg.Connection, material_code: str, into_code: str, quantity: float | None = None, *, by: str = ""
) -> dict[str, Any]:
    """Record that ``quantity`` of lot ``material_code`` went into lot ``into_code``."""
    return _link(conn, get_lot(conn, material_code), get_lot(conn, into_code), "consumed", quantity, by)


def split(conn: psycopg.Connection, source_code: str, parts: Sequence[SplitPart], *, by: str = "") -> list[dict]:
    """Split a lot into new lots that inherit its product, order, line and time window."""
    if not parts:
        raise QualityError("split needs at least one part")
    with conn.transaction():
        source = get_lot(conn, source_code)
        if sum(p.quantity for p in parts) > source["quantity"] + 1e-9:
            raise QualityError(f"split parts add up to more than lot {source_code!r} holds ({source['quantity']})")
        created = []
        for part in parts:
            lot = create_lot(conn, LotIn(
                code=part.code, kind=source["kind"], product=source["product"],
                work_order_id=source["work_order_id"], line_id=source["line_id"], quantity=part.quantity,
                unit=source["unit"], supplier=source["supplier"], supplier_lot=source["supplier_lot"],
                started_at=source["started_at"], ended_at=source["ended_at"], created_by=by,
            ))  # fmt: skip
            _link(conn, source, lot, "split", part.quantity, by)
            created.append(lot)
        conn.execute("UPDATE lots SET status = 'split' WHERE id = %s", (source["id"],))
    return created


def merge(conn: psycopg.Connection, source_codes: Sequence[str], into: LotIn, *, by: str = "") -> dict[str, Any]:
    """Merge lots into a new one; its quantity is the sum unless given."""
    if len(set(source_codes)) < 2:
        raise QualityError("merge needs at least two different lots")
    with conn.transaction():
        sources = [get_lot(conn, code) for code in source_codes]
        if not into.quantity:
            into = into.model_copy(update={"quantity": sum(s["quantity"] for s in sources)})
        if not into.product and len({s["product"] for s in sources}) == 1:
            into = into.model_copy(update={"product": sources[0]["product"]})
        target = create_lot(conn, into)
        for source in sources:
            _link(conn, source, target, "merge", source["quantity"], by)
            conn.execute("UPDATE lots SET status = 'merged' WHERE id = %s", (source["id"],))
    return target


def _link(conn, parent: dict, child: dict, relation: str, quantity: float | None, by: str) -> dict[str, Any]:
    if parent["id"] == child["id"]:
        raise QualityError("a lot cannot go into itself")
    if quantity is not None and quantity < 0:
        raise QualityError("quantity must not be negative")
    # A link that would close a loop makes genealogy meaningless: refuse it.
    if _reachable(conn, child["id"], parent["id"]):
        raise QualityError(f"lot {child['code']!r} already went into {parent['code']!r}: the link would make a loop")
    return one(
        conn,
        """
        INSERT INTO lot_links (parent_lot_id, child_lot_id, relation, quantity, work_order_id, recorded_by)
        VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (parent_lot_id, child_lot_id, relation) DO UPDATE SET quantity = EXCLUDED.quantity
        RETURNING *
        """,
        (parent["id"], child["id"], relation, quantity, child["work_order_id"], by),
    )


def _reachable(conn: psycopg.Connection, start: int, goal: int) -> bool:
    return any(row["lot_id"] == goal for row in _walk(conn, start, "forward"))


_TRACE = """
WITH RECURSIVE walk (lot_id, depth, via) AS (
    SELECT %(start)s::bigint, 0, NULL::text
    UNION ALL
    SELECT {next}, walk.depth + 1, link.relation
    FROM walk JOIN lot_links link ON {this} = walk.lot_id
    WHERE walk.depth < 1000
) CYCLE lot_id SET looped USING path
SELECT DISTINCT ON (lot_id) lot_id, depth, via FROM walk WHERE NOT looped ORDER BY lot_id, depth
"""


def _walk(conn: psycopg.Connection, start: int, direction: Direction) -> list[dict[str, Any]]:
    this, nxt = ("link.parent_lot_id", "link.child_lot_id") if direction == "forward" else (
        "link.child_lot_id", "link.parent_lot_id")
    return rows(conn, _TRACE.format(this=this, next=nxt), {"start": start})


def trace(conn: psycopg.Connection, code: str, direction: Direction = "backward") -> dict[str, Any]:
    """The lots reachable from lot ``code`` (itself at depth 0) and the links between them.

    A backward trace adds, for every lot made on a line, the excursions that
    overlapped its time window and the min/avg/max of each bound process tag
    of its product over that window.
    """
    if direction not in ("forward", "backward"):
        raise QualityError("direction must be 'forward' or 'backward'")
    root = get_lot(conn, code)
    reached = {row["lot_id"]: row for row in _walk(conn, root["id"], direction)}
    lots = rows(conn, "SELECT * FROM lots WHERE id = ANY(%s)", (list(reached),))
    for lot in lots:
        lot["depth"] = reached[lot["id"]]["depth"]
        lot["via"] = reached[lot["id"]]["via"]
    lots.sort(key=lambda lot: (lot["depth"], lot["code"]))
    links = rows(
        conn,
        """
        SELECT p.code AS parent, c.code AS child, l.relation, l.quantity, l.time
        FROM lot_links l JOIN lots p ON p.id = l.parent_lot_id JOIN lots c ON c.id = l.child_lot_id
        WHERE l.parent_lot_id = ANY(%(ids)s) AND l.child_lot_id = ANY(%(ids)s)
        ORDER BY l.id
        """,
        {"ids": list(reached)},
    )
    result: dict[str, Any] = {"lot": code, "direction": direction, "lots": lots, "links": links}
    if direction == "backward":
        for lot in lots:
            lot["excursions"] = excursions_during(conn, lot)
            lot["process_values"] = process_values_during(conn, lot)
    return result


def _window(lot: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return lot.get("started_at"), lot.get("ended_at")


def excursions_during(conn: psycopg.Connection, lot: dict[str, Any]) -> list[dict[str, Any]]:
    """Excursions recorded on the lot's order (or line) that overlap the time it was made."""
    start, end = _window(lot)
    if start is None or (lot.get("work_order_id") is None and lot.get("line_id") is None):
        return []
    return rows(
        conn,
        """
        SELECT e.id, e.tag, s.characteristic, e.direction, e.limit_value, e.worst_value,
               e.start_time, e.end_time, e.work_order_id, e.line_id
        FROM process_excursions e JOIN quality_specs s ON s.id = e.spec_id
        WHERE (e.work_order_id = %(order)s OR (%(order)s IS NULL AND e.line_id = %(line)s))
          AND tstzrange(e.start_time, e.end_time, '[]') && tstzrange(%(start)s, %(end)s, '[]')
        ORDER BY e.start_time
        """,
        {"order": lot.get("work_order_id"), "line": lot.get("line_id"), "start": start, "end": end},
    )


def process_values_during(conn: psycopg.Connection, lot: dict[str, Any]) -> list[dict[str, Any]]:
    """Min/avg/max of every bound process tag of the lot's product while the lot was made."""
    start, end = _window(lot)
    if start is None or lot.get("kind") != "produced":
        return []
    return rows(
        conn,
        """
        SELECT s.characteristic, s.tag, s.unit, s.process_low, s.process_high,
               min(x.value) AS min, avg(x.value) AS avg, max(x.value) AS max, count(x.value) AS samples
        FROM quality_specs s
        JOIN tags t ON t.name = s.tag
        LEFT JOIN samples x ON x.tag_id = t.id AND x.time >= %(start)s AND x.time <= coalesce(%(end)s, now())
                           AND x.status < 1073741824
        WHERE s.active AND s.tag IS NOT NULL AND s.product_id = %(product)s
          AND (s.line_id IS NULL OR s.line_id = %(line)s)
        GROUP BY s.id ORDER BY s.characteristic
        """,
        {"start": start, "end": end, "product": lot.get("product"), "line": lot.get("line_id")},
    )


def lot_at(conn: psycopg.Connection, work_order_id: int, at: datetime) -> dict[str, Any] | None:
    """The order's lot whose time window contains ``at`` (an open window counts), if any."""
    found = rows(
        conn,
        """
        SELECT * FROM lots
        WHERE work_order_id = %s AND kind = 'produced' AND started_at <= %s AND (ended_at IS NULL OR ended_at >= %s)
        ORDER BY started_at DESC LIMIT 1
        """,
        (work_order_id, at, at),
    )
    return found[0] if found else None
