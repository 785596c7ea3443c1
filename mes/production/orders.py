"""Work orders: planned -> released -> running <-> paused -> completed, or cancelled.

The order's ``status`` is a projection; the record is ``work_order_transitions``
(every change with who and when) and ``order_runs`` (the periods it ran). The
runs table has an exclusion constraint, so the database itself refuses a second
running order on a line. Orders start and stop from the API/CLI or, when the
line binds an order-number tag, from the PLC (:func:`follow_order_tag`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg

from mes.bounds import check_number
from mes.db import first, rows, scalar
from mes.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)

STATUSES = ("planned", "released", "running", "paused", "completed", "cancelled")
TRANSITIONS: dict[str, set[str]] = {
    "planned": {"released", "running", "cancelled"},
    "released": {"running", "planned", "cancelled"},
    "running": {"paused", "completed"},
    "paused": {"running", "completed", "cancelled"},
    "completed": set(),
    "cancelled": set(),
}
FAR_OVER_PLAN = 1.5  # good units above this share of the plan make progress implausible
ACTIONS = {"release": "released", "start": "running", "resume": "running", "pause": "paused",
           "complete": "completed", "cancel": "cancelled"}  # fmt: skip

# Lines and products come from the plant config; a verb without the config says how to load it.
NOT_SYNCED_HINT = " (lines and products come from the plant config: `linebrain import --config plant.yaml`, " \
    "`linebrain derive --config plant.yaml` or `linebrain run plant.yaml` load it)"

ORDER_COLUMNS = (
    "o.id, o.number, o.line_id, o.product_id, o.planned_quantity, o.due_at, o.status, o.note, o.created_by, "
    "o.created_at, (SELECT min(lower(r.period)) FROM order_runs r WHERE r.order_id = o.id) AS started_at, "
    "(SELECT upper(r.period) FROM order_runs r WHERE r.order_id = o.id ORDER BY lower(r.period) DESC LIMIT 1) "
    "AS last_stop_at"
)


def create_order(conn: psycopg.Connection, number: str, line_id: str, product_id: str, planned_quantity: float,
                 by: str, due_at: datetime | None = None, note: str = "") -> dict:
    """A new order in status ``planned``."""
    planned_quantity = check_number(planned_quantity, "planned_quantity", positive=True)
    if conn.execute("SELECT 1 FROM equipment WHERE id = %s AND level = 'line'", (line_id,)).fetchone() is None:
        raise InvalidInput(f"no line {line_id!r} in the database{NOT_SYNCED_HINT}", field="line_id")
    if conn.execute("SELECT 1 FROM products WHERE id = %s", (product_id,)).fetchone() is None:
        raise InvalidInput(f"no product {product_id!r} in the database{NOT_SYNCED_HINT}", field="product_id")
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO work_orders (number, line_id, product_id, planned_quantity, due_at, note, created_by) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (number, line_id, product_id, planned_quantity, due_at, note, by),
            ).fetchone()
            assert row is not None  # one row: an aggregate or RETURNING
            conn.execute(
                "INSERT INTO work_order_transitions (order_id, from_status, to_status, at, by_user, note) "
                "VALUES (%s, NULL, 'planned', now(), %s, 'created')",
                (row[0], by),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"order number {number!r} exists already", field="number") from exc
    return get_order(conn, int(row[0]))


EDITABLE = ("planned_quantity", "due_at", "note")


def update_order(conn: psycopg.Connection, order_id: int, by: str, changes: dict) -> dict:
    """Change the plan of an order that has not finished (quantity, due time, note). Each
    change is recorded in the transition log with the old and new value."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if changes.get("planned_quantity") is not None:
        changes = changes | {"planned_quantity": check_number(changes["planned_quantity"], "planned_quantity",
                                                              positive=True)}
    with conn.transaction():
        order = get_order(conn, order_id)
        if order["status"] in ("completed", "cancelled"):
            raise Conflict(f"order {order['number']} is {order['status']}: its plan is final", field="status")
        for name, value in changes.items():
            if value == order[name]:
                continue
            conn.execute(f"UPDATE work_orders SET {name} = %s WHERE id = %s", (value, order_id))
            conn.execute(
                "INSERT INTO work_order_transitions (order_id, from_status, to_status, at, by_user, note) "
                "VALUES (%s, %s, %s, now(), %s, %s)",
                (order_id, order["status"], order["status"], by, f"{name}: {order[name]} -> {value}"),
            )
    return get_order(conn, order_id)


def get_order(conn: psycopg.Connection, order_id: int) -> dict:
    row = first(conn, f"SELECT {ORDER_COLUMNS} FROM work_orders o WHERE o.id = %s", (order_id,))
    if row is None:
        raise NotFound(f"no order {order_id}", field="order_id")
    return row


def find_order(conn: psycopg.Connection, number: str) -> dict:
    row = conn.execute("SELECT id FROM work_orders WHERE number = %s", (number,)).fetchone()
    if row is None:
        raise NotFound(f"no order number {number!r}", field="number")
    return get_order(conn, int(row[0]))


def list_orders(conn: psycopg.Connection, line_id: str | None = None, status: str | None = None,
                limit: int = 100) -> list[dict]:
    return rows(
        conn,
        f"SELECT {ORDER_COLUMNS} FROM work_orders o WHERE (%(line)s::text IS NULL OR o.line_id = %(line)s) "
        "AND (%(status)s::text IS NULL OR o.status = %(status)s) ORDER BY o.id DESC LIMIT %(limit)s",
        {"line": line_id, "status": status, "limit": limit},
    )


def transitions(conn: psycopg.Connection, order_id: int) -> list[dict]:
    return rows(
        conn,
        "SELECT from_status, to_status, at, by_user, note, recorded_at FROM work_order_transitions "
        "WHERE order_id = %s ORDER BY id",
        (order_id,),
    )


def transition(conn: psycopg.Connection, order_id: int, to_status: str, by: str, at: datetime | None = None,
               note: str = "") -> dict:
    """Move an order to ``to_status`` at ``at`` (default now), stamped with ``by``.

    Starting or resuming opens a run; pausing or completing closes it. A second running
    order on the line is refused (:class:`~mes.errors.Conflict`)."""
    if to_status not in STATUSES:
        raise InvalidInput(f"unknown status {to_status!r}", field="status")
    at = at or datetime.now(UTC)
    with conn.transaction():
        row = conn.execute("SELECT status, line_id FROM work_orders WHERE id = %s FOR UPDATE", (order_id,)).fetchone()
        if row is None:
            raise NotFound(f"no order {order_id}", field="order_id")
        current, line_id = row
        if to_status not in TRANSITIONS[current]:
            allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
            raise Conflict(f"order {order_id} is {current}: cannot go to {to_status} (allowed: {allowed})",
                           field="status")
        if current == "running":
            _close_run(conn, order_id, at)
        if to_status == "running":
            _open_run(conn, order_id, line_id, at)
        conn.execute("UPDATE work_orders SET status = %s WHERE id = %s", (to_status, order_id))
        conn.execute(
            "INSERT INTO work_order_transitions (order_id, from_status, to_status, at, by_user, note) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (order_id, current, to_status, at, by, note),
        )
    return get_order(conn, order_id)


def _open_run(conn: psycopg.Connection, order_id: int, line_id: str, at: datetime) -> None:
    last_end = scalar(conn, "SELECT max(upper(period)) FROM order_runs WHERE order_id = %s", (order_id,))
    if last_end is not None and at < last_end:
        raise InvalidInput("an order cannot resume before it was paused", field="at")
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO order_runs (order_id, line_id, period) VALUES (%s, %s, tstzrange(%s, NULL))",
                (order_id, line_id, at),
            )
    except psycopg.errors.ExclusionViolation as exc:
        other = conn.execute(
            "SELECT w.number FROM order_runs r JOIN work_orders w ON w.id = r.order_id WHERE r.line_id = %s "
            "AND r.period && tstzrange(%s, NULL) LIMIT 1",
            (line_id, at),
        ).fetchone()
        name = other[0] if other else "another order"
        raise Conflict(f"line {line_id} already runs order {name} at that time", field="status") from exc


def _close_run(conn: psycopg.Connection, order_id: int, at: datetime) -> None:
    row = conn.execute(
        "SELECT id, lower(period) FROM order_runs WHERE order_id = %s AND upper_inf(period)", (order_id,)
    ).fetchone()
    if row is None:
        return
    if at <= row[1]:
        raise InvalidInput("an order cannot stop before it started", field="at")
    conn.execute("UPDATE order_runs SET period = tstzrange(lower(period), %s) WHERE id = %s", (at, row[0]))


def running_order(conn: psycopg.Connection, line_id: str) -> dict | None:
    row = conn.execute("SELECT id FROM work_orders WHERE line_id = %s AND status = 'running'", (line_id,)).fetchone()
    return get_order(conn, int(row[0])) if row else None


def order_progress(conn: psycopg.Connection, order_id: int, now: datetime | None = None) -> dict:
    """Produced, good and scrap against plan, the good rate over the order's run time, and
    the projected finish at that rate (None while nothing good was made). ``plausible`` is
    false, with ``implausible_reasons``, when the order's KPI row is not plausible or more
    than 150% of the plan is good (a counter glitch more often than a real overrun)."""
    now = now or datetime.now(UTC)
    order = get_order(conn, order_id)
    span = conn.execute(
        "SELECT min(lower(period)), max(coalesce(upper(period), %s)) FROM order_runs WHERE order_id = %s",
        (now, order_id),
    ).fetchone()
    assert span is not None  # one row: an aggregate or RETURNING
    produced = good = run_seconds = 0.0
    reasons: list[str] = []
    if span[0] is not None:
        row = first(
            conn,
            "SELECT pq_total, gq_total, aoet, implausible_reasons FROM mes_kpi(%s, %s, %s, 'order') "
            "WHERE group_key = %s",
            (order["line_id"], span[0], span[1], str(order_id)),
        )
        if row:
            produced, good, run_seconds = row["pq_total"], row["gq_total"], row["aoet"]
            reasons = list(row["implausible_reasons"])
    if good > FAR_OVER_PLAN * order["planned_quantity"]:
        reasons.append("far_over_plan")
    remaining = max(order["planned_quantity"] - good, 0.0)
    rate = good / run_seconds if run_seconds > 0 else 0.0
    projected = None
    if remaining == 0:
        projected = span[1]
    elif rate > 0 and order["status"] in ("running", "paused", "released", "planned"):
        projected = now + timedelta(seconds=remaining / rate)
    return {
        "order_id": order_id, "number": order["number"], "status": order["status"],
        "planned_quantity": order["planned_quantity"], "produced": produced, "good": good,
        "scrap": produced - good, "remaining": remaining,
        "percent_complete": 100.0 * good / order["planned_quantity"], "run_seconds": run_seconds,
        "good_per_hour": rate * 3600, "projected_finish": projected, "due_at": order["due_at"],
        "late": bool(projected and order["due_at"] and projected > order["due_at"]),
        "plausible": not reasons, "implausible_reasons": reasons,
    }  # fmt: skip


# --------------------------------------------------------------------------- the PLC order-number tag

PLC_USER = "plc"


def follow_order_tag(conn: psycopg.Connection, unit: dict, tag_id: int, now: datetime) -> None:
    """Start the order whose number the PLC shows (pausing the one running); a blank or zero
    number pauses the running order. An order created or released while the PLC already
    shows its number is started at the time the number appeared. An unknown number is
    logged once, or created when the line's ``orders.auto_create`` is on."""
    wm = conn.execute(
        "SELECT last_time, last_text, value_since FROM derive_watermarks "
        "WHERE equipment_id = %s AND stream = 'order_number'",
        (unit["id"],),
    ).fetchone()
    after = wm[0] if wm else datetime.min.replace(tzinfo=UTC)
    previous, since = (wm[1], wm[2]) if wm else (None, None)
    readings = conn.execute(
        "SELECT time, coalesce(text_value, CASE WHEN value IS NULL OR value = 0 THEN '' "
        "ELSE trim(to_char(value, 'FM999999999999999999')) END) FROM samples WHERE tag_id = %s AND time > %s "
        "AND time <= %s AND status < 2147483648 ORDER BY time",
        (tag_id, after, now),
    ).fetchall()
    for time, number in readings:
        number = (number or "").strip()
        if number != previous:
            if previous and since is not None:
                _apply_order_number(conn, unit, previous, since)  # created or released since it appeared
            _apply_order_number(conn, unit, number, time)
            previous, since = number, time
    if previous and since is not None:
        _apply_order_number(conn, unit, previous, since)  # created or released since it appeared
    if readings:
        conn.execute(
            "INSERT INTO derive_watermarks (equipment_id, stream, last_time, last_text, value_since) "
            "VALUES (%s, 'order_number', %s, %s, %s) ON CONFLICT (equipment_id, stream) DO UPDATE SET "
            "last_time = EXCLUDED.last_time, last_text = EXCLUDED.last_text, value_since = EXCLUDED.value_since, "
            "updated_at = now()",
            (unit["id"], readings[-1][0], previous, since),
        )


# What this process has logged about PLC order numbers: each (line, note) once, not every run.
_logged: set[tuple[str, str]] = set()


def _log_once(line_id: str, key: str, message: str, *args: object) -> None:
    if (line_id, key) not in _logged:
        _logged.add((line_id, key))
        log.warning(message, *args)


def _apply_order_number(conn: psycopg.Connection, unit: dict, number: str, at: datetime) -> None:
    """Make the line run the order ``number`` from ``at`` (none for a blank number). A
    refusal (the order ran later than ``at`` already, another order's run is in the way) is
    logged; derivation goes on."""
    line_id = unit["line_id"]
    running = running_order(conn, line_id)
    if running and running["number"] == number:
        return
    target = None
    if number:
        row = conn.execute("SELECT id, status, line_id FROM work_orders WHERE number = %s", (number,)).fetchone()
        if row is None:
            target = _unknown_order_number(conn, line_id, number, at)
        elif row[2] == line_id and row[1] in ("planned", "released", "paused"):
            target = int(row[0])
    try:
        with conn.transaction():
            if running and (target is not None or not number):
                transition(conn, running["id"], "paused", PLC_USER, at, note="order number changed on the PLC")
            if target is not None:
                transition(conn, target, "running", PLC_USER, at, note=f"order number {number} on the PLC")
    except (Conflict, InvalidInput) as exc:
        _log_once(line_id, f"refused {number} {at}", "line %s: order number %s on the PLC at %s not followed: %s",
                  line_id, number, at, exc)


def _unknown_order_number(conn: psycopg.Connection, line_id: str, number: str, at: datetime) -> int | None:
    """Create the order when the line auto-creates (returns its id); else log it once."""
    line = conn.execute("SELECT auto_create_orders, auto_create_product, auto_create_quantity FROM equipment "
                        "WHERE id = %s", (line_id,)).fetchone()  # fmt: skip
    if line and line[0] and line[1]:
        order = create_order(conn, number, line_id, line[1], line[2] or 1000, PLC_USER,
                             note=f"created from the PLC order number at {at.isoformat()}")
        log.info("line %s: created order %s shown by the PLC", line_id, number)
        return int(order["id"])
    hint = "set orders.product for the line" if line and line[0] else "create it, or set orders.auto_create: true"
    _log_once(line_id, f"unknown {number}", "line %s: the PLC shows order number %s, which LineBrain does not "
              "know (%s)", line_id, number, hint)  # fmt: skip
    return None


# --------------------------------------------------------------------------- changeovers

CHANGEOVERS = """
WITH started AS (
    SELECT w.id, w.number, w.product_id, min(lower(r.period)) AS started
    FROM work_orders w JOIN order_runs r ON r.order_id = w.id
    WHERE w.line_id = %(line)s AND lower(r.period) < %(end)s
    GROUP BY w.id
), runs AS (
    -- The orders started in the window and the one before the first of them: the good units of
    -- those only (not of the line's whole history).
    SELECT * FROM started WHERE started >= %(start)s
    UNION ALL
    (SELECT * FROM started WHERE started < %(start)s ORDER BY started DESC LIMIT 1)
), good AS (
    SELECT runs.*,
           (SELECT max(b.cut_end) FROM order_runs r JOIN count_buckets b ON b.equipment_id = %(line)s
             AND b.cut_end > lower(r.period) AND b.cut_end <= coalesce(upper(r.period), 'infinity')
             WHERE r.order_id = runs.id AND b.good > 0) AS last_good,
           (SELECT min(b.cut_end) FROM order_runs r JOIN count_buckets b ON b.equipment_id = %(line)s
             AND b.cut_end > lower(r.period) AND b.cut_end <= coalesce(upper(r.period), 'infinity')
             WHERE r.order_id = runs.id AND b.good > 0) AS first_good
    FROM runs
), pairs AS (
    SELECT lag(number) OVER w AS from_order, lag(product_id) OVER w AS from_product,
           lag(last_good) OVER w AS last_good_before, number AS to_order, product_id AS to_product, first_good,
           started
    FROM good WINDOW w AS (ORDER BY started)
)
SELECT from_order, from_product, to_order, to_product, last_good_before, first_good,
       extract(epoch FROM first_good - last_good_before)::float AS seconds
FROM pairs
WHERE from_order IS NOT NULL AND started >= %(start)s AND last_good_before IS NOT NULL AND first_good IS NOT NULL
ORDER BY started
"""


def changeovers(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict]:
    """Changeovers of orders started on the line in [start, end): from the last good unit of one
    order to the first good unit of the next (to the resolution of the count buckets), with the
    product pair. Orders without good units on either side are left out."""
    return rows(conn, CHANGEOVERS, {"line": line_id, "start": start, "end": end})


def changeover_by_pair(changes: list[dict]) -> list[dict]:
    """Changeovers summed up per product pair: how many, mean and longest, longest mean first."""
    pairs: dict[tuple[str, str], list[float]] = {}
    for change in changes:
        pairs.setdefault((change["from_product"], change["to_product"]), []).append(change["seconds"])
    summary = [{"from_product": a, "to_product": b, "changeovers": len(s), "mean_seconds": sum(s) / len(s),
                "max_seconds": max(s)} for (a, b), s in pairs.items()]  # fmt: skip
    return sorted(summary, key=lambda row: -row["mean_seconds"])
