"""Quality: yield, scrap and first pass yield; SPC charts with their limits; excursions and nonconformances."""

from __future__ import annotations

from mes.grafana.dashboards.variables import (
    AREA,
    BUCKETED_WINDOW,
    LINE,
    PRODUCT,
    SHIFT,
    SITE,
    WINDOW,
    percent_fields,
)
from mes.grafana.model import Dashboard, QueryVariable, barchart, stat, table, timeseries

CHART = QueryVariable("chart", "SPC chart", "SELECT * FROM grafana.spc_chart_choices(${line:sqlstring})")

_LINE = "${line:sqlstring}"
_PRODUCTS = "ARRAY[$product]::text[]"
_RANGE = "$__timeFrom(), $__timeTo()"
_POINTS = f"grafana.spc_points(${{chart:sqlstring}}::integer, {_RANGE})"


def _limit_lines() -> list[dict]:
    """Centre line solid, control limits dashed red, the statistic as points on a thin line."""
    def style(name: str, color: str, dash: bool) -> dict:
        properties = [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}},
                      {"id": "custom.showPoints", "value": "never"}, {"id": "custom.fillOpacity", "value": 0}]
        if dash:
            properties.append({"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}})
        return {"matcher": {"id": "byName", "options": name}, "properties": properties}

    value = {"matcher": {"id": "byName", "options": "value"},
             "properties": [{"id": "custom.showPoints", "value": "always"}, {"id": "custom.pointSize", "value": 5}]}
    return [value, style("center", "green", False), style("lcl", "red", True), style("ucl", "red", True)]  # fmt: skip


def build() -> Dashboard:
    summary = stat(
        "Quality over the range",
        "SELECT yield, scrap_ratio, first_pass_yield, open_nonconformances\n"
        f"FROM grafana.line_quality({_LINE}, {WINDOW})",
        width=24, overrides=percent_fields("yield", "scrap_ratio", "first_pass_yield"),
        description="Yield = GQ/PQ and scrap ratio = SQ/PQ from mes_kpi(); first pass yield = (PQ − SQ − RQ)/PQ.",
    )  # fmt: skip
    summary.options["colorMode"] = "value"
    panels = [
        summary,
        timeseries("Yield, scrap and first pass yield",
                   f"SELECT * FROM grafana.line_quality_trend({_LINE}, {BUCKETED_WINDOW})",
                   unit="percentunit", width=24),
        timeseries("SPC chart",
                   f"SELECT \"time\", value, center, lcl, ucl FROM {_POINTS}\nWHERE part = 'primary' ORDER BY 1",
                   description="X̄, X, p, np, c or u with the chart's centre line and 3σ limits (frozen in "
                   "Phase II; p and u limits follow each point's sample size).",
                   overrides=_limit_lines()),
        timeseries("SPC spread (R, S or moving range)",
                   f"SELECT \"time\", value, center, lcl, ucl FROM {_POINTS}\nWHERE part = 'secondary' ORDER BY 1",
                   overrides=_limit_lines()),
        table("SPC rule violations",
              f"SELECT * FROM grafana.spc_violations(${{chart:sqlstring}}::integer, {_RANGE})", height=7),
        table("Process excursions", f"SELECT * FROM grafana.excursions({_LINE}, {_PRODUCTS}, {_RANGE})", height=7,
              overrides=[{"matcher": {"id": "byName", "options": "seconds"},
                          "properties": [{"id": "unit", "value": "s"}]}]),
        barchart("Defects by code",
                 f"SELECT defect, quantity FROM grafana.defect_pareto({_LINE}, {_PRODUCTS}, {_RANGE})", unit="short"),
        timeseries("Quality events",
                   f"SELECT \"time\", kind, events FROM grafana.quality_events({_LINE}, {_RANGE}, $__interval_ms)",
                   stack=True, unit="short"),
        table("Nonconformances", f"SELECT * FROM grafana.nonconformances({_LINE}, {_PRODUCTS}, {_RANGE})",
              width=24, height=8, description="Recorded in the range, and every one still open."),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-quality",
        title="LineBrain · Quality",
        description="Yield, scrap, first pass yield, SPC charts with limits, excursions, nonconformances.",
        panels=panels,
        variables=[SITE, AREA, LINE, PRODUCT, SHIFT, CHART],
        time_from="now-24h",
    )
