"""The time model of a work centre, from what it has: a line or cell with machine data keeps its
ISO 22400 KPIs (``mes_kpi`` over its equipment, unchanged); a manual station has only its reports
(scans, bookings) and its line's shift calendar.

From those two a manual station gets, per ISO 22400-2:

- POT from the calendar, PDT (breaks, planned maintenance) and PBT = POT − PDT;
- PQ, GQ, SQ, RQ from the reports (counted when the bundle left, i.e. at the scan);
- with PRU = the operation's SAM: OEE = PRU × GQ / PBT (the standard minutes earned over the
  planned busy time) and the quality ratio GQ / PQ.

It cannot measure what needs a machine state: the actual production time APT, delays ADET, setup
AUST, and so neither availability (APT / PBT) nor effectiveness (PRU × PQ / APT) apart — a station
that idled half the shift and one that worked slowly all shift look the same. The answer says so
(``not_measured``). A bundle counts whole in the period of its scan, so short periods are lumpy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import first
from mes.errors import InvalidInput
from mes.production import kpi
from mes.routing.routings import get_work_centre, list_work_centres

NOT_MEASURED = ("aubt", "adet", "aust", "apt", "availability", "effectiveness")

REPORTED = """
SELECT coalesce(sum(r.good + r.scrap), 0) AS pq, coalesce(sum(r.good), 0) AS gq, coalesce(sum(r.scrap), 0) AS sq,
       coalesce(sum(r.rework), 0) AS rework, coalesce(sum(r.good * o.sam_minutes * 60), 0) AS earned_seconds,
       count(*) AS reports
FROM operation_reports r JOIN operation_orders o ON o.id = r.operation_id
WHERE o.work_centre_id = %(centre)s AND r.at >= %(start)s AND r.at < %(end)s
"""

CALENDAR = """
WITH shifts AS (
    SELECT period * tstzrange(%(start)s, %(end)s) AS span FROM shift_instances
    WHERE line_id = %(line)s AND period && tstzrange(%(start)s, %(end)s)
), planned AS (
    SELECT range_agg(p.period * s.span) AS spans FROM planned_downtime p JOIN shifts s ON p.period && s.span
    WHERE p.line_id = %(line)s
)
SELECT coalesce((SELECT sum(extract(epoch FROM upper(span) - lower(span))) FROM shifts), 0)::float AS pot,
       coalesce((SELECT sum(extract(epoch FROM upper(r) - lower(r)))
                 FROM planned, unnest(planned.spans) AS r), 0)::float AS pdt
"""


def station_kpi(conn: psycopg.Connection, centre_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The work centre's time elements, quantities and what can be said of them in [start, end)."""
    if end <= start:
        raise InvalidInput("'end' must be after 'start'", field="end")
    centre = get_work_centre(conn, centre_id)
    calendar = first(conn, CALENDAR, {"line": centre["line_id"], "start": start, "end": end})
    made = first(conn, REPORTED, {"centre": centre_id, "start": start, "end": end})
    assert calendar is not None and made is not None
    pbt = calendar["pot"] - calendar["pdt"]
    pq, gq = float(made["pq"]), float(made["gq"])
    answer: dict[str, Any] = {
        "work_centre_id": centre_id, "kind": centre["kind"], "line_id": centre["line_id"], "start": start, "end": end,
        "pot": calendar["pot"], "pdt": calendar["pdt"], "pbt": pbt, "pq": pq, "gq": gq, "sq": float(made["sq"]),
        "rework": float(made["rework"]), "reports": made["reports"], "earned_seconds": float(made["earned_seconds"]),
        "oee": float(made["earned_seconds"]) / pbt if pbt > 0 else None,
        "quality_ratio": gq / pq if pq > 0 else None,
        "not_measured": list(NOT_MEASURED), "source": "reports and shift calendar (PRU = SAM)",
        "machine_kpi": None,
    }  # fmt: skip
    if centre["equipment_id"]:
        answer["machine_kpi"] = kpi.period_kpi(conn, centre["equipment_id"], start, end)
    return answer


def station_kpis(conn: psycopg.Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """:func:`station_kpi` of every active work centre."""
    return [station_kpi(conn, c["id"], start, end) for c in list_work_centres(conn) if c["active"]]
