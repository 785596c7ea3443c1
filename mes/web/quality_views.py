"""What the quality pages show, gathered from mes.quality (no SQL here, no HTML): SPC charts with
their rule violations, nonconformances with their dispositions, lots with their genealogy and the
process data recorded while each lot was made."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import psycopg

from mes.production.equipment import list_equipment
from mes.quality import genealogy, nonconformances, spc, specs
from mes.quality.charts import ChartLimits, ChartType, compute_limits, plot
from mes.quality.errors import QualityError
from mes.web import spc_chart

SECONDARY_NAME = {ChartType.xbar_r: "R", ChartType.xbar_s: "S", ChartType.imr: "MR"}
PRIMARY_NAME = {ChartType.xbar_r: "X̄", ChartType.xbar_s: "X̄", ChartType.imr: "I", ChartType.p: "p",
                ChartType.np: "np", ChartType.c: "c", ChartType.u: "u"}  # fmt: skip
NC_STATUSES = ("open", "dispositioned", "closed")
DISPOSITIONS = ("scrap", "rework", "use_as_is", "return_to_supplier")


def plant_zone(conn: psycopg.Connection, line_id: str | None = None) -> str | None:
    """The time zone the page shows times in: the record's line's, else the first line's."""
    lines = list_equipment(conn, "line")
    chosen = [line for line in lines if line["id"] == line_id] or lines
    return chosen[0]["timezone"] if chosen else None


def quality_page(conn: psycopg.Connection, status: str | None) -> dict[str, Any]:
    """The quality overview: SPC charts, nonconformances (filtered by status), recent lots."""
    return {
        "charts": [{**chart, "spec": specs.get_spec(conn, chart["spec_id"]) if chart["spec_id"] else None}
                   for chart in spc.list_charts(conn)],
        "nonconformances": nonconformances.list_nonconformances(conn, status=status),
        "lots": genealogy.recent_lots(conn),
        "statuses": NC_STATUSES,
    }  # fmt: skip


def spc_page(conn: psycopg.Connection, chart_id: int, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    """One characteristic's control chart over [start, end): its points against the stored limits
    (Phase I trial or frozen Phase II), or trial limits computed from the points shown when the chart
    has none yet (said on the page); the rule violations found (judged here, nothing stored)."""
    chart = spc.get_chart(conn, chart_id)
    kind = ChartType(chart["chart_type"])
    times, data = spc.chart_data(conn, chart, start, end)
    page: dict[str, Any] = {"chart": chart, "kind": kind, "primary_name": PRIMARY_NAME[kind],
                            "secondary_name": SECONDARY_NAME.get(kind), "spec": None, "primary": None,
                            "secondary": None, "violations": [], "limits": None, "limits_source": None,
                            "points": data.length(kind)}  # fmt: skip
    if chart["spec_id"]:
        page["spec"] = specs.get_spec(conn, chart["spec_id"])
    if page["points"] == 0:
        return page
    if chart["limits"]:
        limits, source = ChartLimits.from_dict(chart["limits"]), chart["phase"]
    else:
        try:
            limits, source = compute_limits(kind, data), "computed"
        except QualityError as exc:  # too few points for limits: say so on the page
            page["limits_error"] = str(exc)
            return page
    plotted = plot(limits, data)
    found = spc.rule_violations(chart, plotted)
    marks: dict[str, dict[int, list[str]]] = {"primary": defaultdict(list), "secondary": defaultdict(list)}
    for part, violation, _point in found:
        marks[part][violation.index].append(spc_chart.rule_number(violation.rule))
    page.update(
        limits=limits, limits_source=source,
        primary=spc_chart.panel(plotted.primary, marks["primary"], times),
        secondary=spc_chart.panel(plotted.secondary, marks["secondary"], times),
        violations=[{"part": part, "rule": v.rule, "number": spc_chart.rule_number(v.rule), "value": point.value,
                     "time": times[v.index]} for part, v, point in found],
    )  # fmt: skip
    return page


def nonconformance_page(conn: psycopg.Connection, nc_id: int) -> dict[str, Any]:
    """A nonconformance with its dispositions and history, and how much is still to decide."""
    nc = nonconformances.get_nonconformance(conn, nc_id)
    decided = sum(d["quantity"] for d in nc["dispositions"])
    return {"nc": nc, "remaining": max(nc["quantity"] - decided, 0.0), "dispositions": DISPOSITIONS}


def lot_page(conn: psycopg.Connection, code: str, direction: genealogy.Direction) -> dict[str, Any]:
    """A lot's genealogy (backward: what went into it, with process values and excursions while each
    lot was made; forward: every lot made from it)."""
    return {"lot": genealogy.get_lot(conn, code), "trace": genealogy.trace(conn, code, direction),
            "direction": direction}  # fmt: skip
