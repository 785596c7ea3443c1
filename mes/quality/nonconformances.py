"""Nonconformances: record, disposition, close — and book the bad units into the counts.

Lifecycle: ``open`` → ``dispositioned`` (once dispositions cover the whole
quantity) → ``closed``. A disposition — scrap, rework, use as is, return to
supplier — names who approved it. Every step is a history row.

Scrap and rework must reach the KPIs without a second KPI formula. The
production core counts good/reject/rework per work unit in ``count_buckets``
and takes signed, audited corrections in ``count_adjustments``; its KPI SQL
sums both. So a disposition books correction rows at the time the units were
made (inside the order's run, so they land in that order and shift):

- scrap: good −q, reject +q. Whichever counters the line has (total, good,
  reject), ``mes_timeline`` then keeps PQ and lowers GQ by q, so SQ = PQ − GQ,
  the scrap ratio and the quality ratio move by exactly q;
- rework: rework +q, which is RQ and the rework ratio. GQ is left alone
  because the KPI SQL defines SQ as PQ − GQ: lowering GQ would count reworked
  units as scrap. First pass yield, (PQ − SQ − RQ)/PQ, sees both
  (:func:`mes.quality.summary.order_quality`);
- use as is / return to supplier: no count change (the units were good as
  produced, or never ours).

The correction's time is the nonconformance's time when the order was running
then, else the nearest instant inside one of its runs: a count at a run's
very start belongs to the period before it in the KPI timeline, so the
earliest instant used is just after the start.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from pydantic import Field

from mes.bounds import BigId, PositiveQuantity, SerialId
from mes.production.counts import adjust_counts, scrap_bookings
from mes.quality.db import one, rows
from mes.quality.errors import InvalidTransition, QualityError
from mes.quality.events import record_event
from mes.quality.models import AwareDatetime, QualityInput

Disposition = Literal["scrap", "rework", "use_as_is", "return_to_supplier"]
_EPSILON = 1e-9


class NonconformanceIn(QualityInput):
    description: str = Field(min_length=1, max_length=2000)
    quantity: PositiveQuantity
    found_at: str = ""
    work_order_id: BigId | None = None
    lot_code: str | None = None
    line_id: str | None = None
    equipment_id: str | None = None
    product_id: str | None = None
    defect_code: str | None = None
    spec_id: SerialId | None = None
    reported_by: str = ""
    time: AwareDatetime | None = None


class DispositionIn(QualityInput):
    disposition: Disposition
    quantity: PositiveQuantity
    approved_by: str = Field(default="", max_length=100, description="who approved it (API: the signed-in user)")
    note: str = ""


def create_nonconformance(
    conn: psycopg.Connection, nc: NonconformanceIn, *, source: str = "manual", source_id: int | None = None
) -> dict[str, Any]:
    """Record a nonconformance; order, line and product fill each other in where one is known."""
    lot_id = None
    line_id, product_id, work_order_id = nc.line_id, nc.product_id, nc.work_order_id
    if nc.lot_code:
        lot = one(conn, "SELECT * FROM lots WHERE code = %s", (nc.lot_code,), what=f"lot {nc.lot_code!r}")
        lot_id = lot["id"]
        work_order_id = work_order_id or lot["work_order_id"]
        line_id = line_id or lot["line_id"]
    if work_order_id is not None:
        order = one(conn, "SELECT line_id, product_id FROM work_orders WHERE id = %s", (work_order_id,),
                    what=f"work order {work_order_id}")
        line_id = line_id or order["line_id"]
        product_id = product_id or order["product_id"]
    with conn.transaction():
        created = one(
            conn,
            """
            INSERT INTO nonconformances (description, quantity, found_at, work_order_id, lot_id, line_id,
                equipment_id, product_id, defect_code, spec_id, source, source_id, reported_by, time)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))
            RETURNING *
            """,
            (nc.description, nc.quantity, nc.found_at, work_order_id, lot_id, line_id, nc.equipment_id or line_id,
             product_id, nc.defect_code, nc.spec_id, source, source_id, nc.reported_by, nc.time),
        )  # fmt: skip
        _history(conn, created["id"], nc.reported_by, "created", None, "open", nc.description)
        record_event(conn, "nonconformance", f"nonconformance {created['id']}: {nc.description}",
                     time=created["time"], line_id=line_id, work_order_id=work_order_id, source_id=created["id"],
                     details={"quantity": nc.quantity, "defect_code": nc.defect_code, "source": source})
    return get_nonconformance(conn, created["id"])


def get_nonconformance(conn: psycopg.Connection, nc_id: int) -> dict[str, Any]:
    nc = one(
        conn,
        "SELECT n.*, l.code AS lot_code, o.number AS work_order_number FROM nonconformances n "
        "LEFT JOIN lots l ON l.id = n.lot_id LEFT JOIN work_orders o ON o.id = n.work_order_id WHERE n.id = %s",
        (nc_id,),
        what=f"nonconformance {nc_id}",
    )
    nc["dispositions"] = rows(conn, "SELECT * FROM nonconformance_dispositions WHERE nonconformance_id = %s "
                                    "ORDER BY id", (nc_id,))
    nc["history"] = rows(conn, "SELECT * FROM nonconformance_history WHERE nonconformance_id = %s ORDER BY id",
                         (nc_id,))
    return nc


def list_nonconformances(
    conn: psycopg.Connection, *, status: str | None = None, work_order_id: int | None = None,
    line_id: str | None = None, limit: int = 200,
) -> list[dict[str, Any]]:  # fmt: skip
    return rows(
        conn,
        """
        SELECT n.*, l.code AS lot_code FROM nonconformances n LEFT JOIN lots l ON l.id = n.lot_id
        WHERE (%(s)s::text IS NULL OR n.status = %(s)s) AND (%(o)s::bigint IS NULL OR n.work_order_id = %(o)s)
          AND (%(l)s::text IS NULL OR n.line_id = %(l)s)
        ORDER BY n.id DESC LIMIT %(n)s
        """,
        {"s": status, "o": work_order_id, "l": line_id, "n": limit},
    )


def disposition(conn: psycopg.Connection, nc_id: int, decision: DispositionIn) -> dict[str, Any]:
    """Decide what happens to (part of) the nonconforming quantity, and book scrap/rework into the counts."""
    if not decision.approved_by.strip():
        raise QualityError("a disposition needs the name of who approved it", field="approved_by")
    with conn.transaction():
        nc = one(conn, "SELECT * FROM nonconformances WHERE id = %s FOR UPDATE", (nc_id,),
                 what=f"nonconformance {nc_id}")
        if nc["status"] == "closed":
            raise InvalidTransition(f"nonconformance {nc_id} is closed")
        done = one(conn, "SELECT coalesce(sum(quantity), 0) AS q FROM nonconformance_dispositions "
                         "WHERE nonconformance_id = %s", (nc_id,))["q"]
        if done + decision.quantity > nc["quantity"] + _EPSILON:
            raise QualityError(
                f"disposition of {decision.quantity:g} exceeds the {nc['quantity'] - done:g} "
                f"not yet dispositioned (of {nc['quantity']:g})"
            )
        correction = _book_counts(conn, nc, decision)
        conn.execute(
            "INSERT INTO nonconformance_dispositions (nonconformance_id, disposition, quantity, approved_by, note, "
            "count_correction_id) VALUES (%s, %s, %s, %s, %s, %s)",
            (nc_id, decision.disposition, decision.quantity, decision.approved_by, decision.note, correction),
        )
        new_status = "dispositioned" if done + decision.quantity >= nc["quantity"] - _EPSILON else "open"
        conn.execute("UPDATE nonconformances SET status = %s WHERE id = %s", (new_status, nc_id))
        _history(conn, nc_id, decision.approved_by, f"disposition {decision.disposition} {decision.quantity:g}",
                 nc["status"], new_status, decision.note)
    return get_nonconformance(conn, nc_id)


def close(conn: psycopg.Connection, nc_id: int, by: str, note: str = "") -> dict[str, Any]:
    """Close a fully dispositioned nonconformance."""
    if not by:
        raise QualityError("closing a nonconformance needs the name of who closes it")
    with conn.transaction():
        nc = one(conn, "SELECT * FROM nonconformances WHERE id = %s FOR UPDATE", (nc_id,),
                 what=f"nonconformance {nc_id}")
        if nc["status"] != "dispositioned":
            raise InvalidTransition(
                f"nonconformance {nc_id} is {nc['status']}: only a fully dispositioned one can be closed"
            )
        conn.execute("UPDATE nonconformances SET status = 'closed', closed_at = now(), closed_by = %s WHERE id = %s",
                     (by, nc_id))
        _history(conn, nc_id, by, "closed", "dispositioned", "closed", note)
    return get_nonconformance(conn, nc_id)


def _history(conn, nc_id: int, actor: str, action: str, from_status, to_status, note: str = "") -> None:
    conn.execute(
        "INSERT INTO nonconformance_history (nonconformance_id, actor, action, from_status, to_status, note) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (nc_id, actor, action, from_status, to_status, note),
    )


def _book_counts(conn: psycopg.Connection, nc: dict[str, Any], decision: DispositionIn) -> int | None:
    """Add count corrections for scrap/rework on the order's line; returns the id of the first row."""
    if decision.disposition not in ("scrap", "rework") or nc["work_order_id"] is None:
        return None
    order = one(conn, "SELECT id, line_id, number FROM work_orders WHERE id = %s", (nc["work_order_id"],))
    at = _time_inside_order(conn, order["id"], nc["time"])
    if at is None:
        raise QualityError(
            f"work order {order['number']} never ran: there are no produced units to {decision.disposition}"
        )
    why = f"nonconformance {nc['id']}: {decision.disposition} {decision.quantity:g} approved by {decision.approved_by}"
    bookings: list[tuple[str, float]]
    if decision.disposition == "scrap":
        bookings = scrap_bookings(conn, order["line_id"], decision.quantity)
    else:
        bookings = [("rework", decision.quantity)]
    return adjust_counts(conn, order["line_id"], bookings, at, why, decision.approved_by)[0]


def _time_inside_order(conn: psycopg.Connection, order_id: int, wanted: datetime) -> datetime | None:
    """``wanted`` if the order was running then, else the nearest instant inside one of its runs."""
    runs = rows(conn, "SELECT lower(period) AS start, upper(period) AS stop FROM order_runs WHERE order_id = %s "
                      "ORDER BY lower(period)", (order_id,))
    best: datetime | None = None
    best_gap: timedelta | None = None
    for run in runs:
        first = run["start"] + timedelta(microseconds=1)
        last = run["stop"]
        if wanted >= first and (last is None or wanted <= last):
            return wanted
        candidate = first if wanted < first else last
        gap = abs(candidate - wanted)
        if best_gap is None or gap < best_gap:
            best, best_gap = candidate, gap
    return best
