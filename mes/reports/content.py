"""A report's content: the recorded facts of one line and period, as numbers.

Every figure of production, OEE, losses, downtime and changeovers is read through the
functions the API serves (:mod:`mes.production.kpi`, :mod:`mes.production.downtime`,
:mod:`mes.production.orders`, :mod:`mes.alarms.andon`), so a report and ``GET /api/lines/{id}/kpi`` for the same
window never disagree; there is no second calculation here. The PDF and XLSX writers
only lay these numbers out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from mes.alarms import andon as andon_calls
from mes.alarms import store as alarm_store
from mes.energy import deviations, energy_split, latest_baseline
from mes.production import downtime, kpi, orders
from mes.production.equipment import get_unit
from mes.reports import records
from mes.reports.periods import ReportPeriod

Row = dict[str, Any]
Progress = Callable[[str], None]

# The sections in the order the reports show them (the progress bar counts them).
SECTIONS = ("oee", "production", "downtime", "changeovers", "quality", "alarms", "andon", "energy", "handover")


def _order_plan(conn: psycopg.Connection, row: Row) -> Row:
    """An order's KPI row with its plan: number, product, planned quantity and progress to date."""
    order = orders.get_order(conn, int(row["group_key"]))
    return {"order_id": order["id"], "number": order["number"], "product_id": order["product_id"],
            "planned_quantity": order["planned_quantity"], "status": order["status"], **_quantities(row)}  # fmt: skip


def _quantities(row: Row) -> Row:
    keys = ("pq", "gq", "sq", "rq", "pq_total", "gq_total", "oee", "availability", "effectiveness", "quality_ratio",
            "apt", "pbt", "energy", "energy_per_good_unit", "plausible")  # fmt: skip
    return {key: row[key] for key in keys}


def production(conn: psycopg.Connection, period: ReportPeriod) -> Row:
    """Production against plan per order and per product (``mes_kpi`` by order and by product)."""
    line, start, end = period.line_id, period.start, period.end
    by_order = [_order_plan(conn, row) for row in kpi.kpis(conn, line, start, end, "order") if row["group_key"]]
    by_product = [{"product_id": row["group_key"], **_quantities(row)}
                  for row in kpi.kpis(conn, line, start, end, "product") if row["group_key"]]  # fmt: skip
    for product in by_product:
        product["planned_quantity"] = sum(o["planned_quantity"] for o in by_order
                                          if o["product_id"] == product["product_id"])  # fmt: skip
    by_shift = [] if period.kind == "shift" else [
        {"shift": row["group_label"], **_quantities(row)} for row in kpi.kpis(conn, line, start, end, "shift")]
    return {"orders": by_order, "products": by_product, "shifts": by_shift}


def stops(conn: psycopg.Connection, period: ReportPeriod) -> list[Row]:
    """The stops of the period with their reason and the comment given when it was assigned."""
    events = downtime.list_events(conn, period.line_id, period.start, period.end, kind="stop")
    comments = records.stop_comments(conn, [e["id"] for e in events])
    return [{**event, "comment": comments.get(event["id"], "")} for event in events]


def quality(conn: psycopg.Connection, period: ReportPeriod, total: Row) -> Row:
    """Inspections, values out of limits, nonconformances, scrap and first pass yield.
    First pass yield is (PQ − SQ − RQ) / PQ, as the order quality summary reads it."""
    checks = records.inspections(conn, period.line_id, period.start, period.end)
    pq, sq, rq = total["pq"], total["sq"], total["rq"]
    return {
        "inspections": checks,
        "inspections_count": len(checks),
        "inspections_failed": sum(1 for c in checks if not c["passed"]),
        "out_of_limit": sum(c["out_of_limit"] for c in checks),
        "nonconformances": records.nonconformances(conn, period.line_id, period.start, period.end),
        "scrap": sq,
        "rework": rq,
        "scrap_ratio": total["scrap_ratio"],
        "first_pass_yield": (pq - sq - rq) / pq if pq else None,
    }


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


def alarms(conn: psycopg.Connection, period: ReportPeriod, area: str | None) -> Row:
    """Alarms raised in the period on the line (or its area, for rules without a line), read through
    the alarms domain, with each one's time to acknowledge and to close (from when it was raised)."""
    raised = [dict(a) for a in reversed(alarm_store.history(conn, period.start, period.end, limit=2000))
              if a["line"] == period.line_id or (a["line"] is None and area is not None and a["area"] == area)]
    for alarm in raised:
        alarm["ack_seconds"] = seconds_between(alarm["raised_at"], alarm["acknowledged_at"])
        alarm["close_seconds"] = seconds_between(alarm["raised_at"], alarm["closed_at"])
    return alarm_summary(raised)


def alarm_summary(raised: list[Row]) -> Row:
    """Alarms (oldest first, with ``ack_seconds`` and ``close_seconds``) with their count per priority,
    the unacknowledged ones and the mean and longest times to acknowledge and to close."""
    acked = [a["ack_seconds"] for a in raised if a["ack_seconds"] is not None]
    closed = [a["close_seconds"] for a in raised if a["close_seconds"] is not None]
    return {
        "alarms": raised, "count": len(raised),
        "by_priority": {p: sum(1 for a in raised if a["priority"] == p) for p in ("urgent", "high", "medium", "low")},
        "not_acknowledged": len(raised) - len(acked),
        "mean_ack_seconds": sum(acked) / len(acked) if acked else None,
        "max_ack_seconds": max(acked, default=None),
        "mean_close_seconds": sum(closed) / len(closed) if closed else None,
    }  # fmt: skip


def andon(conn: psycopg.Connection, period: ReportPeriod) -> Row:
    """The line's andon calls raised in the period, oldest first, with their times to acknowledge and to
    resolve and the totals per kind, all from the andon domain (what ``GET /api/andon/calls`` serves)."""
    raised = list(reversed(andon_calls.calls(conn, period.start, period.end, period.line_id)))
    return {"calls": raised, "by_kind": andon_calls.totals_by_kind(raised)}


def energy(conn: psycopg.Connection, period: ReportPeriod, total: Row) -> Row:
    """kWh, kWh per unit and per good unit (the KPI row), the kWh used while nothing was produced
    by time element, and each shift's deviation from the line's baseline when one is fitted."""
    split = energy_split(conn, period.line_id, period.start, period.end)
    baseline = latest_baseline(conn, period.line_id)
    return {
        "energy": total["energy"], "energy_per_unit": total["energy_per_unit"],
        "energy_per_good_unit": total["energy_per_good_unit"], "idle": split["not_producing"],
        "idle_share": split["not_producing_share"], "by_element": split["by_element"], "baseline": baseline,
        "deviations": deviations(conn, period.line_id, period.start, period.end) if baseline else [],
    }  # fmt: skip


def build_report(conn: psycopg.Connection, period: ReportPeriod, now: datetime | None = None,
                 progress: Progress | None = None) -> Row:
    """Everything a report shows for ``period``, as numbers (``progress(section)`` after each section)."""
    step = progress or (lambda _section: None)
    line, start, end = period.line_id, period.start, period.end
    unit = get_unit(conn, line)
    total = kpi.period_kpi(conn, line, start, end)
    content: Row = {
        "period": period, "line_name": unit["name"] or line, "generated_at": now or datetime.now(UTC),
        "micro_stop_seconds": unit["micro_stop_seconds"],
        "oee": total, "waterfall": kpi.oee_waterfall(conn, line, start, end), "implausible": kpi.explain(total),
    }
    step("oee")
    content["production"] = production(conn, period)
    step("production")
    content["pareto"] = kpi.downtime_pareto(conn, line, start, end)
    content["stops"] = stops(conn, period)
    step("downtime")
    changes = orders.changeovers(conn, line, start, end)
    content["changeovers"] = changes
    content["changeover_pairs"] = orders.changeover_by_pair(changes)
    step("changeovers")
    content["quality"] = quality(conn, period, total)
    step("quality")
    parent = unit["parent_id"] or ""
    content["alarms"] = alarms(conn, period, parent.removeprefix("_area.") if parent.startswith("_area.") else None)
    step("alarms")
    content["andon"] = andon(conn, period)
    step("andon")
    content["energy"] = energy(conn, period, total)
    step("energy")
    content["handover"] = {"notes": records.handover_notes(conn, line, start, end),
                           "open_items": records.open_items(conn, line, end)}  # fmt: skip
    content["sign_off"] = records.sign_off(conn, period.key)
    step("handover")
    return content


def sign_off(conn: psycopg.Connection, period: ReportPeriod, by: str, note: str = "",
             at: datetime | None = None) -> Row:
    """Sign a period off (once: a second sign-off is refused)."""
    from mes.errors import Conflict

    found = records.sign_off(conn, period.key)
    if found is not None:
        raise Conflict(f"{period.label} was signed off by {found['signed_by']} at {found['signed_at']:%Y-%m-%d %H:%M}",
                       field="period")
    return records.add_sign_off(conn, period.key, period.line_id, by, note, at)
