"""A small builder for Grafana dashboard JSON: dashboards as plain Python data.

Why not hand-edited JSON: panels share one datasource, one layout rule and one
set of variables, and every panel query must be runnable by the tests. Why not
build with ``grafana-foundation-sdk``: it installs, but its versions track
Grafana builds and it mirrors the whole schema; the few panel types used here
are simpler as dicts. ``schema/dashboard.schema.json`` checks the result on
every export, and the tests round-trip it through the SDK's Dashboard model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "linebrain"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
# Grafana 11.0's dashboard schema version; Grafana 11 and 12 migrate it on load.
SCHEMA_VERSION = 39
GRID_COLUMNS = 24

Format = Literal["time_series", "table"]
# What a panel's query must return; the tests check it against the real database.
Shape = Literal["timeseries", "numbers", "categories", "table"]


@dataclass
class Panel:
    """One panel: a visualization, its SQL and what the SQL must return."""

    kind: str
    title: str
    sql: str
    width: int = 12
    height: int = 8
    description: str = ""
    format: Format = "table"
    shape: Shape = "table"
    unit: str | None = None
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    thresholds: list[tuple[float | None, str]] | None = None
    mappings: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    repeat: str | None = None

    def to_json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {"custom": dict(self.custom), "mappings": self.mappings}
        for key, value in (("unit", self.unit), ("decimals", self.decimals), ("min", self.min), ("max", self.max)):
            if value is not None:
                defaults[key] = value
        if self.thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": value, "color": color} for value, color in self.thresholds],
            }
        if self.links:
            defaults["links"] = self.links
        panel: dict[str, Any] = {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "datasource": dict(DATASOURCE),
            "targets": [
                {
                    "refId": "A",
                    "datasource": dict(DATASOURCE),
                    "editorMode": "code",
                    "format": self.format,
                    "rawQuery": True,
                    "rawSql": self.sql.strip(),
                }
            ],
            "fieldConfig": {"defaults": defaults, "overrides": self.overrides},
            "options": self.options,
        }
        if self.repeat:
            panel["repeat"] = self.repeat
            panel["repeatDirection"] = "h"
            panel["maxPerRow"] = max(1, GRID_COLUMNS // self.width)
        return panel


def timeseries(title: str, sql: str, *, unit: str | None = None, stack: bool = False, **kw: Any) -> Panel:
    """A time series; the query returns ``time``, an optional text series name and numbers."""
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False}
    if stack:
        custom.update({"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 60, "drawStyle": "bars"})
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "none"}}  # fmt: skip
    return Panel("timeseries", title, sql, format="time_series", shape="timeseries", unit=unit,
                 custom=custom, options=options, **kw)  # fmt: skip


def stat(title: str, sql: str, *, unit: str | None = None, **kw: Any) -> Panel:
    """Big numbers; the query returns one row of numbers (or one per series)."""
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
               "justifyMode": "auto", "orientation": "auto"}  # fmt: skip
    kw.setdefault("width", 6)
    kw.setdefault("height", 4)
    return Panel("stat", title, sql, shape="numbers", unit=unit, options=options, **kw)


def bargauge(title: str, sql: str, *, unit: str | None = None, **kw: Any) -> Panel:
    """One bar per row: the query returns a text column and numbers."""
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
               "displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True}  # fmt: skip
    return Panel("bargauge", title, sql, shape="categories", unit=unit, options=options, **kw)


def barchart(title: str, sql: str, *, unit: str | None = None, stack: bool = False, **kw: Any) -> Panel:
    """Bars by category: the query returns a text column first, then numbers."""
    options = {"orientation": "horizontal", "xTickLabelRotation": 0, "showValue": "auto",
               "stacking": "normal" if stack else "none", "groupWidth": 0.7, "barWidth": 0.9,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "single", "sort": "none"}}  # fmt: skip
    return Panel("barchart", title, sql, shape="categories", unit=unit, options=options, **kw)


def state_timeline(title: str, sql: str, **kw: Any) -> Panel:
    """Coloured bands of a state over time: ``time`` then one text column per row of bands."""
    options = {"mergeValues": True, "showValue": "auto", "alignValue": "left", "rowHeight": 0.9,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "single", "sort": "none"}}  # fmt: skip
    kw.setdefault("width", 24)
    return Panel("state-timeline", title, sql, format="table", shape="timeseries", options=options, **kw)


def table(title: str, sql: str, **kw: Any) -> Panel:
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    return Panel("table", title, sql, shape="table", options=options, **kw)


@dataclass
class QueryVariable:
    """A dashboard variable filled by SQL returning ``__value`` and ``__text`` (or one column)."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    hide: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": "query",
            "datasource": dict(DATASOURCE),
            "definition": self.sql.strip(),
            "query": self.sql.strip(),
            "refresh": 2,  # on time range change: shifts and orders follow the range
            "multi": self.multi,
            "includeAll": self.include_all,
            "allValue": self.all_value,
            "current": {},
            "options": [],
            "sort": 0,
            "hide": self.hide,
            "regex": "",
            "skipUrlSync": False,
        }


@dataclass
class Dashboard:
    """A dashboard: panels are laid out left to right, wrapping at 24 grid columns."""

    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: list[QueryVariable] = field(default_factory=list)
    time_from: str = "now-24h"
    refresh: str = "1m"
    tags: list[str] = field(default_factory=lambda: ["linebrain"])

    def to_json(self, timezone: str = "browser") -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        x = y = row_height = 0
        for number, panel in enumerate(self.panels, start=1):
            if x + panel.width > GRID_COLUMNS:
                x, y, row_height = 0, y + row_height, 0
            panels.append(panel.to_json(number, x, y))
            x += panel.width
            row_height = max(row_height, panel.height)
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": timezone,
            "editable": True,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "links": [
                {"title": "LineBrain", "type": "dashboards", "tags": ["linebrain"], "asDropdown": True,
                 "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
                 "tooltip": "", "url": ""}
            ],
            "annotations": {"list": []},
            "templating": {"list": [variable.to_json() for variable in self.variables]},
            "panels": panels,
        }
