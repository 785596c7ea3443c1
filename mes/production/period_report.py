"""What a plant manager reads over a period besides OEE: first pass yield and scrap, whether
orders were completed on time, and the stops behind each bar of the downtime Pareto.

Yield comes from the same KPI rows as OEE (``mes_kpi``): scrap ratio SQ/PQ, rework ratio RQ/PQ and
first pass yield (PQ − SQ − RQ)/PQ (ISO 22400-2; the same formula as
:func:`mes.quality.summary.order_quality`). The drill-down reads ``mes_downtime_pareto_stops``
(mes/sql/0115), which classifies lost time exactly as ``mes_downtime_pareto`` does, so the stops
of a bar add up to the bar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import rows
from mes.errors import InvalidInput
from mes.production.equipment import get_unit

Row = dict[str, Any]


def lines_kpi(conn: psycopg.Connection, start: datetime, end: datetime) -> list[Row]:
    """Every active line's KPIs over [start, end), side by side, with yield. Read through the
    hourly KPI cache (``grafana.lines_kpi``, migration 0118: ``grafana.kpi`` of 0085/0088 for all
    lines in one statement): whole hours that ``linebrain run`` has cached are summed, the rest is
    computed live by ``mes_kpi`` — the same numbers as ``mes_kpi`` over the window, but a plant of
    20 lines costs one cache read and the live edges, not 20 timelines.
    A line without data in the window has its row, empty."""
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")
    return [with_yield(row) for row in rows(
        conn,
        """
        SELECT e.id AS group_key, coalesce(nullif(e.name, ''), e.id) AS group_label, k.pot, k.pbt, k.apt, k.adet,
               k.aust, k.pq, k.gq, k.sq, k.rq, k.availability, k.effectiveness, k.quality_ratio, k.oee,
               k.scrap_ratio, k.rework_ratio, k.no_data_time, k.plausible, k.implausible_reasons
        FROM equipment e
        LEFT JOIN grafana.lines_kpi(
            ARRAY(SELECT l.id FROM equipment l WHERE l.active AND l.level = 'line'), %s, %s) k ON k.line_id = e.id
        WHERE e.active AND e.level = 'line'
        ORDER BY e.id
        """,
        (start, end),
    )]  # fmt: skip


def with_yield(row: Row) -> Row:
    """A KPI row with its first pass yield, (PQ − SQ − RQ)/PQ; None without production."""
    pq, sq, rq = row.get("pq") or 0.0, row.get("sq") or 0.0, row.get("rq") or 0.0
    return {**row, "first_pass_yield": (pq - sq - rq) / pq if pq > 0 else None}


def order_delivery(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[Row]:
    """The line's orders completed in [start, end): when they were due, when they were completed
    (the last completion) and whether that was on time (``None`` when the order had no due time)."""
    get_unit(conn, line_id)
    return rows(
        conn,
        """
        SELECT o.id, o.number, o.product_id, o.planned_quantity, o.due_at, c.completed_at,
               CASE WHEN o.due_at IS NULL THEN NULL ELSE c.completed_at <= o.due_at END AS on_time,
               extract(epoch FROM c.completed_at - o.due_at) AS late_seconds
        FROM work_orders o
        JOIN LATERAL (SELECT max(t.at) AS completed_at FROM work_order_transitions t
                      WHERE t.order_id = o.id AND t.to_status = 'completed') c ON true
        WHERE o.line_id = %s AND o.status = 'completed' AND c.completed_at >= %s AND c.completed_at < %s
        ORDER BY c.completed_at, o.id
        """,
        (line_id, start, end),
    )


def on_time_rate(orders: list[Row]) -> dict[str, Any]:
    """Orders completed on time / orders completed that had a due time; those without one apart."""
    judged = [o for o in orders if o["on_time"] is not None]
    on_time = sum(1 for o in judged if o["on_time"])
    return {"completed": len(orders), "with_due": len(judged), "on_time": on_time,
            "late": len(judged) - on_time, "no_due": len(orders) - len(judged),
            "rate": on_time / len(judged) if judged else None}  # fmt: skip


def pareto_stops(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime, code: str) -> list[Row]:
    """The stops behind the Pareto bar ``code`` (a reason code, ``minor_stop``, ``no_data`` or
    ``unassigned:<state>``), each with the seconds it lost inside the period."""
    get_unit(conn, unit_id)
    if not code or len(code) > 200:
        raise InvalidInput("name one bar of the Pareto", field="reason")
    return rows(conn, "SELECT * FROM mes_downtime_pareto_stops(%s, %s, %s, %s)", (unit_id, start, end, code))
