"""Counts of a machine booked to the operation its PLC says it works on.

A work centre with machine data may name an operation tag: text ``"<order number>/<operation>"``,
or the operation number alone (then the order is the one running on the work centre's line at
that time, as the line's order-number tag or a person started it). Each count bucket of the
machine (good and reject, see :mod:`mes.production.counts`) goes to the operation the tag showed
at the bucket's end — to the resolution of the buckets (a minute, or a shift/order boundary) —
once: the booking is keyed by machine and bucket, so running it again over the same window, or
over overlapping windows, books nothing twice. Buckets while the tag is blank (or 0) are left
unbooked; so are those where it names an operation the order does not have, and those are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from mes.db import first, rows
from mes.errors import InvalidInput
from mes.routing.reports import book_quantity
from mes.routing.routings import get_work_centre

PLC_USER = "plc"

SHOWN = ("coalesce(text_value, CASE WHEN value IS NULL OR value = 0 THEN '' "
         "ELSE trim(to_char(value, 'FM999999999999')) END)")  # what the tag shows, as text ('' = blank)
READINGS = f"""
(SELECT time, {SHOWN} AS shown FROM samples
  WHERE tag_id = %(tag)s AND time <= %(start)s AND status < 2147483648 ORDER BY time DESC LIMIT 1)
UNION ALL
(SELECT time, {SHOWN} FROM samples
  WHERE tag_id = %(tag)s AND time > %(start)s AND time <= %(end)s AND status < 2147483648)
ORDER BY 1
"""

OPERATION = """
SELECT o.id FROM operation_orders o JOIN work_orders w ON w.id = o.order_id
WHERE o.seq = %(seq)s AND o.work_centre_id = %(centre)s AND (
  w.number = %(number)s OR (%(number)s::text IS NULL AND w.id = (
    SELECT r.order_id FROM order_runs r WHERE r.line_id = %(line)s AND r.period @> %(at)s::timestamptz LIMIT 1)))
"""


@dataclass
class Booked:
    buckets: int = 0
    unbooked: int = 0
    errors: list[str] = field(default_factory=list)


def book_from_operation_tag(conn: psycopg.Connection, centre_id: str, start: datetime, end: datetime,
                            by: str = PLC_USER) -> Booked:  # fmt: skip
    """Book the machine's count buckets in (start, end] to the operations the tag showed."""
    centre = get_work_centre(conn, centre_id)
    if not centre["operation_tag"] or not centre["equipment_id"]:
        raise InvalidInput(f"work centre {centre_id} has no operation tag", field="work_centre_id")
    tag = first(conn, "SELECT id FROM tags WHERE name = %s", (centre["operation_tag"],))
    if tag is None:
        return Booked(errors=[f"{centre_id}: no tag {centre['operation_tag']!r} in the plant config"])
    shown = rows(conn, READINGS, {"tag": tag["id"], "start": start, "end": end})
    buckets = rows(conn, "SELECT cut_end, good, reject FROM count_buckets WHERE equipment_id = %s AND cut_end > %s "
                         "AND cut_end <= %s AND (good > 0 OR reject > 0) ORDER BY cut_end",
                   (centre["equipment_id"], start, end))  # fmt: skip
    result = Booked()
    with conn.transaction():
        for bucket in buckets:
            before = [s["shown"] for s in shown if s["time"] < bucket["cut_end"]]
            value = before[-1].strip() if before else ""
            if not value:
                result.unbooked += 1  # between operations: nothing to book, nothing wrong
                continue
            operation = _operation(conn, centre, value, bucket["cut_end"])
            if operation is None:
                result.unbooked += 1
                result.errors.append(f"{centre_id}: {bucket['cut_end']:%Y-%m-%d %H:%M} the tag shows {value!r}: "
                                     "no such operation here; the counts stay unbooked")  # fmt: skip
                continue
            key = f"plc:{centre['equipment_id']}:{bucket['cut_end'].isoformat()}"
            made = book_quantity(conn, operation, bucket["good"], by, scrap=bucket["reject"], at=bucket["cut_end"],
                                 source="plc", source_key=key)  # fmt: skip
            result.buckets += made is not None
    return result


def _operation(conn: psycopg.Connection, centre: dict, value: str, at: datetime) -> int | None:
    number, _, seq = value.rpartition("/")
    if not seq.isdigit():
        return None
    row = first(conn, OPERATION, {"seq": int(seq), "centre": centre["id"], "number": number or None,
                                  "line": centre["line_id"], "at": at})  # fmt: skip
    return int(row["id"]) if row else None


def centres_with_tags(conn: psycopg.Connection) -> list[str]:
    return [r["id"] for r in rows(conn, "SELECT id FROM work_centres WHERE active AND operation_tag IS NOT NULL "
                                        "AND equipment_id IS NOT NULL ORDER BY id")]  # fmt: skip
