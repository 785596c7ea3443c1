"""An order's quality at a glance: the production core's KPI quantities plus first pass yield.

PQ, GQ, SQ and RQ come from ``mes_kpi(..., 'order')`` — the one KPI
implementation — so this page and the OEE page never disagree. First pass
yield is (PQ − SQ − RQ)/PQ: units good without scrap or rework.
"""

from __future__ import annotations

from typing import Any

import psycopg

from mes.quality.db import one, rows


def order_quality(conn: psycopg.Connection, work_order_id: int) -> dict[str, Any]:
    """Quantities, ratios, nonconformances and excursions of one work order."""
    order = one(conn, "SELECT id, number, line_id, product_id FROM work_orders WHERE id = %s", (work_order_id,),
                what=f"work order {work_order_id}")
    window = one(conn, "SELECT min(lower(period)) AS start, max(coalesce(upper(period), now())) AS stop "
                       "FROM order_runs WHERE order_id = %s", (work_order_id,))
    kpi: dict[str, Any] = {}
    if window["start"] is not None:
        found = rows(
            conn,
            "SELECT pq, gq, sq, rq, quality_ratio, scrap_ratio, rework_ratio FROM mes_kpi(%s, %s, %s, 'order') "
            "WHERE group_key = %s",
            (order["line_id"], window["start"], window["stop"], str(work_order_id)),
        )
        kpi = found[0] if found else {}
    pq = kpi.get("pq") or 0.0
    sq, rq = kpi.get("sq") or 0.0, kpi.get("rq") or 0.0
    ncs = one(conn, "SELECT count(*) AS n, coalesce(sum(quantity), 0) AS q, count(*) FILTER (WHERE status <> 'closed') "
                    "AS still_open FROM nonconformances WHERE work_order_id = %s", (work_order_id,))
    excursions = one(conn, "SELECT count(*) AS n FROM process_excursions WHERE work_order_id = %s", (work_order_id,))
    return {
        "work_order_id": order["id"],
        "work_order": order["number"],
        "line_id": order["line_id"],
        "product_id": order["product_id"],
        "pq": pq,
        "gq": kpi.get("gq") or 0.0,
        "sq": sq,
        "rq": rq,
        "quality_ratio": kpi.get("quality_ratio"),
        "scrap_ratio": kpi.get("scrap_ratio"),
        "rework_ratio": kpi.get("rework_ratio"),
        "first_pass_yield": (pq - sq - rq) / pq if pq else None,
        "nonconformances": ncs["n"],
        "nonconformances_open": ncs["still_open"],
        "nonconforming_quantity": float(ncs["q"]),
        "excursions": excursions["n"],
    }
