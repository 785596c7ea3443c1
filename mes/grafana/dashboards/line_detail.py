"""Line detail: states, counts against plan, OEE and its factors, where the time went."""

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
    state_mappings,
)
from mes.grafana.model import Dashboard, barchart, stat, state_timeline, table, timeseries

_LINE = "${line:sqlstring}"
_SHIFT_LINK = {
    "title": "Show this shift",
    "url": "/d/linebrain-line?${line:queryparam}&${product:queryparam}&var-shift=all"
    "&from=${__data.fields.from_ms}&to=${__data.fields.to_ms}",
}


def build() -> Dashboard:
    ratios = ("oee", "availability", "effectiveness", "quality_ratio")
    now = stat(
        "Now and over the range",
        "SELECT state, oee, availability, effectiveness, quality_ratio\n"
        f"FROM grafana.line_status(ARRAY[{_LINE}]::text[], {WINDOW})",
        width=24, height=4,
        overrides=[{"matcher": {"id": "byName", "options": "state"},
                    "properties": [{"id": "mappings", "value": state_mappings()}]}, *percent_fields(*ratios)],
    )  # fmt: skip
    now.options["reduceOptions"]["fields"] = "/.*/"
    panels = [
        now,
        state_timeline(
            "State timeline",
            f"SELECT * FROM grafana.state_timeline({_LINE}, {WINDOW})",
            height=5, mappings=state_mappings(),
        ),
        timeseries(
            "Counts per interval against plan",
            f"SELECT \"time\", good, reject, plan FROM grafana.line_counts({_LINE}, {BUCKETED_WINDOW})",
            description="Good and rejected units per interval; plan is what the planned busy time allows at "
            "the ideal cycle time (PBT / PRU).",
            unit="short", stack=True,
            overrides=[{"matcher": {"id": "byName", "options": "plan"},
                        "properties": [{"id": "custom.drawStyle", "value": "line"},
                                       {"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
                                       {"id": "custom.fillOpacity", "value": 0},
                                       {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]}],
        ),
        timeseries(
            "Cumulative good against plan",
            'SELECT "time", good_cumulative AS good, plan_cumulative AS plan\n'
            f"FROM grafana.line_counts({_LINE}, {BUCKETED_WINDOW})",
            unit="short",
        ),
        timeseries(
            "OEE and its three factors",
            f"SELECT * FROM grafana.line_kpi_trend({_LINE}, {BUCKETED_WINDOW})",
            description="ISO 22400-2: OEE = availability × effectiveness × quality ratio, per interval "
            "(at least an hour), from mes_kpi().",
            unit="percentunit", width=24, min=0,
        ),
        barchart(
            "Downtime Pareto",
            f"SELECT reason, minutes FROM grafana.downtime_pareto({_LINE}, {WINDOW})",
            description="Lost time inside planned busy time by reason, largest first; minor stops and "
            "unassigned stops apart.",
            unit="m",
        ),
        barchart(
            "Which machine stopped the line",
            f"SELECT cause, minutes FROM grafana.root_cause_pareto({_LINE}, {WINDOW})",
            description="The constraint's lost time by the machine whose own stop caused it, and its fault code: "
            "starved follows upstream, blocked downstream (lines that name a constraint; docs/mes.md).",
            unit="m",
        ),
        barchart(
            "OEE loss waterfall",
            f"SELECT step, base, time_hours, loss_hours FROM grafana.loss_waterfall({_LINE}, {WINDOW})",
            description="Planned busy time, minus availability, performance and quality losses, down to "
            "fully productive time (hours).",
            unit="h", stack=True,
            overrides=[
                {"matcher": {"id": "byName", "options": "base"},
                 "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "transparent"}},
                                {"id": "custom.hideFrom", "value": {"legend": True, "tooltip": True, "viz": False}}]},
                {"matcher": {"id": "byName", "options": "loss_hours"},
                 "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]},
            ],
        ),
        timeseries(
            "Micro-stops",
            f"SELECT \"time\", stops, lost_seconds FROM grafana.micro_stops({_LINE}, {BUCKETED_WINDOW})",
            description="Stops shorter than the line's micro-stop threshold, per interval.",
            stack=False, unit="short",
            overrides=[{"matcher": {"id": "byName", "options": "lost_seconds"},
                        "properties": [{"id": "unit", "value": "s"},
                                       {"id": "custom.axisPlacement", "value": "right"}]}],
        ),
        table(
            "Stops",
            f"SELECT * FROM grafana.downtime_events({_LINE}, {WINDOW})",
            overrides=[{"matcher": {"id": "byName", "options": "seconds"},
                        "properties": [{"id": "unit", "value": "s"}]},
                       {"matcher": {"id": "byName", "options": "state"},
                        "properties": [{"id": "mappings", "value": state_mappings()}]}],
        ),
        table(
            "KPIs by shift (click a row to show that shift)",
            f"SELECT * FROM grafana.line_kpi_by_shift({_LINE}, $__timeFrom(), $__timeTo())",
            width=24, links=[_SHIFT_LINK],
            overrides=[*percent_fields(*ratios), {"matcher": {"id": "byRegexp", "options": "from_ms|to_ms"},
                                                  "properties": [{"id": "custom.hidden", "value": True}]}],
        ),
        table(
            "KPIs by product",
            f"SELECT * FROM grafana.line_kpi_by_product({_LINE}, ARRAY[$product]::text[], {WINDOW})",
            width=24, height=6, overrides=percent_fields(*ratios),
        ),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-line",
        title="LineBrain · Line detail",
        description="One line: state timeline, counts against plan, OEE over time, downtime and losses.",
        panels=panels,
        variables=[SITE, AREA, LINE, PRODUCT, SHIFT],
        time_from="now-24h",
    )
