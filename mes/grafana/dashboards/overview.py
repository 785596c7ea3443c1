"""Plant overview: one tile per line — state now, OEE of the range or shift, order progress."""

from __future__ import annotations

from mes.grafana.dashboards.variables import AREA, LINES, SHIFT, SITE, WINDOW, percent_fields, state_mappings
from mes.grafana.model import Dashboard, Panel, bargauge, stat, table

_STATUS = f"grafana.line_status(ARRAY[$line]::text[], {WINDOW})"


def _line_tile() -> Panel:
    tile = stat(
        "${line:text}",
        f"SELECT state, oee, order_progress FROM {_STATUS}",
        description="State now, OEE over the range (or the chosen shift), progress of the running order.",
        width=8, height=5, repeat="line",
        overrides=[
            {"matcher": {"id": "byName", "options": "state"},
             "properties": [{"id": "mappings", "value": state_mappings()}, {"id": "displayName", "value": "State"}]},
            {"matcher": {"id": "byName", "options": "oee"},
             "properties": [{"id": "unit", "value": "percentunit"}, {"id": "displayName", "value": "OEE"},
                            {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                                {"value": None, "color": "red"}, {"value": 0.6, "color": "yellow"},
                                {"value": 0.85, "color": "green"}]}}]},
            {"matcher": {"id": "byName", "options": "order_progress"},
             "properties": [{"id": "unit", "value": "percentunit"}, {"id": "displayName", "value": "Order"},
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}}]},
        ],
    )  # fmt: skip
    tile.options["reduceOptions"]["fields"] = "/^(state|oee|order_progress)$/"
    tile.options["textMode"] = "value_and_name"
    return tile


def build() -> Dashboard:
    panels = [
        _line_tile(),
        bargauge("OEE by line", f"SELECT line_name, oee FROM {_STATUS} ORDER BY oee DESC NULLS LAST",
                 unit="percentunit", min=0, max=1, width=12, height=7,
                 thresholds=[(None, "red"), (0.6, "yellow"), (0.85, "green")]),
        bargauge("Running order progress",
                 f"SELECT line_name || ' · ' || order_number AS line_order, order_progress FROM {_STATUS}\n"
                 "WHERE order_number IS NOT NULL ORDER BY 1",
                 unit="percentunit", min=0, max=1, width=12, height=7),
        table("All lines",
              "SELECT line_name AS line, state, state_since, oee, availability, effectiveness, quality_ratio,\n"
              f"       good, scrap, order_number, product, order_progress FROM {_STATUS}",
              width=24, height=8,
              overrides=[*percent_fields("oee", "availability", "effectiveness", "quality_ratio", "order_progress"),
                         {"matcher": {"id": "byName", "options": "state"},
                          "properties": [{"id": "mappings", "value": state_mappings()},
                                         {"id": "custom.cellOptions", "value": {"type": "color-background"}}]}]),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-overview",
        title="LineBrain · Plant overview",
        description="A tile per line: what it is doing, how well, and where its order stands.",
        panels=panels,
        variables=[SITE, AREA, LINES, SHIFT],
        time_from="now/d",
        refresh="30s",
    )
