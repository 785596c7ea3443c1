"""What left an operation, whichever way the plant reports it.

- **Bundle scans**: the operator scans the bundle's ticket when the bundle leaves the operation.
  The same bundle at the same operation twice is one report (the second scan answers the first
  report, marked ``duplicate``); a scan before the bundle left every operation it comes after is
  stored and flagged ``out_of_sequence``; good + scrap can never exceed the pieces that entered
  (what the earlier operations passed on; for a first operation, the bundle's quantity).
- **Counter bookings**: the good and reject counts of the work centre's machine (the count buckets
  derivation keeps), one report per bucket, keyed by it so booking a window twice books it once.
- **Manual or PLC bookings**: quantities without a bundle (``source`` says which).

Rework counts the good pieces that were reworked before they passed (so rework ≤ good).
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from mes.bounds import check_number
from mes.db import first, rows
from mes.errors import InvalidInput
from mes.routing.operations import get_operation, operation_orders
from mes.routing.routings import get_work_centre

REPORT_COLUMNS = ("id, operation_id, bundle_id, source, at, operator, quantity_in, good, scrap, rework, "
                  "out_of_sequence, source_key, by_user, recorded_at")  # fmt: skip
R_COLUMNS = ", ".join("r." + column.strip() for column in REPORT_COLUMNS.split(","))  # the same, of ``r``


def ancestors(operations: list[dict], seq: int) -> set[int]:
    """Every operation ``seq`` comes after, directly or through others."""
    after = {op["seq"]: op["after_seqs"] for op in operations}
    found: set[int] = set()
    todo = list(after[seq])
    while todo:
        step = todo.pop()
        if step not in found:
            found.add(step)
            todo.extend(after[step])
    return found


def record_scan(conn: psycopg.Connection, code: str, by: str, *, operator: str | None = None,
                seq: int | None = None, work_centre_id: str | None = None, scrap: float = 0, rework: float = 0,
                good: float | None = None, at: datetime | None = None) -> dict:  # fmt: skip
    """The bundle ``code`` left an operation: the one numbered ``seq``, or the first one at
    ``work_centre_id`` the bundle has not left yet. ``good`` defaults to every piece that entered
    less the scrap. Returns the report with ``duplicate`` (an earlier scan of the same bundle and
    operation: nothing changed) and ``out_of_sequence``."""
    scrap = check_number(scrap, "scrap", low=0, high=1_000_000)
    rework = check_number(rework, "rework", low=0, high=1_000_000)
    at = at or datetime.now(UTC)
    with conn.transaction():
        bundle = first(conn, "SELECT id, order_id, quantity FROM bundles WHERE code = %s FOR UPDATE", (code.strip(),))
        if bundle is None:
            raise InvalidInput(f"no bundle with ticket {code.strip()!r}", field="code")
        operations = operation_orders(conn, bundle["order_id"])
        done = {row["seq"]: row for row in rows(
            conn, f"SELECT o.seq, {R_COLUMNS} "
                  "FROM operation_reports r JOIN operation_orders o ON o.id = r.operation_id WHERE r.bundle_id = %s",
            (bundle["id"],))}  # fmt: skip
        operation = _chosen(operations, done, seq, work_centre_id)
        if operation["seq"] in done:
            return {**done[operation["seq"]], "seq": operation["seq"], "duplicate": True}
        entered, in_order = _entered(operations, done, operation, bundle["quantity"])
        good = entered - scrap if good is None else check_number(good, "good", low=0, high=1_000_000)
        if good + scrap > entered:
            raise InvalidInput(f"bundle {code.strip()}: {good:g} good + {scrap:g} scrap is more than the {entered:g} "
                               f"pieces that entered operation {operation['seq']}", field="good")  # fmt: skip
        if rework > good:
            raise InvalidInput(f"rework ({rework:g}) counts reworked good pieces: at most {good:g}", field="rework")
        report = first(
            conn,
            f"INSERT INTO operation_reports (operation_id, bundle_id, source, at, operator, quantity_in, good, scrap, "
            f"rework, out_of_sequence, by_user) VALUES (%s, %s, 'scan', %s, %s, %s, %s, %s, %s, %s, %s) "
            f"RETURNING {REPORT_COLUMNS}",
            (operation["id"], bundle["id"], at, operator or None, entered, good, scrap, rework, not in_order, by),
        )  # fmt: skip
    assert report is not None
    return {**report, "seq": operation["seq"], "duplicate": False}


def _chosen(operations: list[dict], done: dict[int, dict], seq: int | None, centre: str | None) -> dict:
    if seq is not None:
        for op in operations:
            if op["seq"] == seq:
                return op
        raise InvalidInput(f"the bundle's order has no operation {seq}", field="seq")
    if centre is None:
        raise InvalidInput("name the operation (seq) or the work centre the scan comes from", field="seq")
    here = [op for op in operations if op["work_centre_id"] == centre]
    if not here:
        raise InvalidInput(f"the bundle's order has no operation at work centre {centre!r}", field="work_centre_id")
    open_ops = [op for op in here if op["seq"] not in done]
    return open_ops[0] if open_ops else here[-1]


def _entered(operations: list[dict], done: dict[int, dict], operation: dict, quantity: int) -> tuple[float, bool]:
    """Pieces of the bundle that entered ``operation``, and whether every operation it comes after
    has passed the bundle on. Out of sequence, the bundle brings what its latest reported earlier
    operation passed on (or its cut quantity)."""
    before = operation["after_seqs"]
    if all(step in done for step in before):
        return (min(done[step]["good"] for step in before) if before else float(quantity)), True
    known = [done[step]["good"] for step in ancestors(operations, operation["seq"]) if step in done]
    return min([float(quantity), *known]), False


def book_quantity(conn: psycopg.Connection, operation_id: int, good: float, by: str, *, scrap: float = 0,
                  rework: float = 0, at: datetime | None = None, operator: str | None = None,
                  source: str = "manual", source_key: str | None = None) -> dict | None:  # fmt: skip
    """Book pieces that left an operation without a bundle (a manual entry, a PLC report). With a
    ``source_key`` the booking is made once: a second one with the same key returns None."""
    if source not in ("manual", "plc", "counter"):
        raise InvalidInput(f"source must be manual, plc or counter, not {source!r}", field="source")
    good = check_number(good, "good", low=0, high=1e9)
    scrap = check_number(scrap, "scrap", low=0, high=1e9)
    rework = check_number(rework, "rework", low=0, high=1e9)
    if rework > good:
        raise InvalidInput(f"rework ({rework:g}) counts reworked good pieces: at most {good:g}", field="rework")
    get_operation(conn, operation_id)
    return first(
        conn,
        f"INSERT INTO operation_reports (operation_id, source, at, operator, quantity_in, good, scrap, rework, "
        f"source_key, by_user) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (source_key) DO NOTHING "
        f"RETURNING {REPORT_COLUMNS}",
        (operation_id, source, at or datetime.now(UTC), operator, good + scrap, good, scrap, rework, source_key, by),
    )  # fmt: skip


def book_counter(conn: psycopg.Connection, operation_id: int, start: datetime, end: datetime, by: str) -> int:
    """Book the good and reject counts the operation's work centre machine made in (start, end] as
    reports of this operation, one per count bucket; buckets booked before are left alone. Returns
    how many were booked."""
    operation = get_operation(conn, operation_id)
    centre = get_work_centre(conn, operation["work_centre_id"])
    if not centre["equipment_id"]:
        raise InvalidInput(f"work centre {centre['id']} is a manual station: it has no counter", field="operation_id")
    buckets = rows(conn, "SELECT cut_end, good, reject FROM count_buckets WHERE equipment_id = %s AND cut_end > %s "
                         "AND cut_end <= %s AND (good > 0 OR reject > 0) ORDER BY cut_end",
                   (centre["equipment_id"], start, end))  # fmt: skip
    booked = 0
    with conn.transaction():
        for bucket in buckets:
            key = f"counter:{centre['equipment_id']}:{operation_id}:{bucket['cut_end'].isoformat()}"
            made = book_quantity(conn, operation_id, bucket["good"], by, scrap=bucket["reject"], at=bucket["cut_end"],
                                 source="counter", source_key=key)  # fmt: skip
            booked += made is not None
    return booked


def get_report(conn: psycopg.Connection, report_id: int) -> dict | None:
    """One report with its operation, work centre, order and bundle (for the scan station's answer)."""
    return first(
        conn,
        f"SELECT o.seq, o.name AS operation, o.work_centre_id, w.number AS order_number, w.id AS order_id, "
        f"b.code AS bundle, {R_COLUMNS} "
        "FROM operation_reports r JOIN operation_orders o ON o.id = r.operation_id "
        "JOIN work_orders w ON w.id = o.order_id LEFT JOIN bundles b ON b.id = r.bundle_id WHERE r.id = %s",
        (report_id,),
    )


def reports(conn: psycopg.Connection, order_id: int, until: datetime | None = None) -> list[dict]:
    """Every report of the order's operations (up to ``until``), oldest first, with the operation number."""
    return rows(
        conn,
        f"SELECT o.seq, {R_COLUMNS}, b.code AS bundle "
        "FROM operation_reports r JOIN operation_orders o ON o.id = r.operation_id "
        "LEFT JOIN bundles b ON b.id = r.bundle_id "
        "WHERE o.order_id = %(order)s AND (%(until)s::timestamptz IS NULL OR r.at <= %(until)s) ORDER BY r.at, r.id",
        {"order": order_id, "until": until},
    )
