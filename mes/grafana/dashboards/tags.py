"""Tags: any tag's values over time, raw or rolled up, with their quality."""

from __future__ import annotations

from mes.grafana.model import Dashboard, QueryVariable, stat, table, timeseries

CONNECTION = QueryVariable(
    "connection", "Connection", "SELECT connection FROM grafana.connections ORDER BY 1", multi=True, include_all=True
)
TAG = QueryVariable(
    "tag", "Tag",
    "SELECT tag AS __value, tag || CASE WHEN unit <> '' THEN ' [' || unit || ']' ELSE '' END AS __text\n"
    "FROM grafana.tags WHERE connection IN ($connection) AND active ORDER BY tag",
    multi=True,
)  # fmt: skip

_VALUES = "grafana.tag_values(ARRAY[$tag]::text[], $__timeFrom(), $__timeTo(), $__interval_ms)"


def build() -> Dashboard:
    panels = [
        timeseries(
            "Value (average per interval)",
            f'SELECT "time", tag, avg AS value FROM {_VALUES} ORDER BY 1',
            description="Mean of the good samples in each interval. Intervals of a minute or more are read "
            "from the rollups, so a month of 1 s samples draws quickly.",
            width=24, height=9,
        ),
        timeseries(
            "Minimum and maximum per interval",
            f'SELECT "time", tag, min, max FROM {_VALUES} ORDER BY 1',
            description="Spread of the good samples in each interval: spikes an average hides show here.",
        ),
        timeseries(
            "Sample quality",
            'SELECT "time", sum(good) AS good, sum(uncertain) AS uncertain, sum(bad) AS bad\n'
            f"FROM {_VALUES} GROUP BY 1 ORDER BY 1",
            description="Samples per interval by OPC UA status severity. Bad samples are stored, never dropped.",
            stack=True,
            overrides=[_color("good", "green"), _color("uncertain", "yellow"), _color("bad", "red")],
        ),
        stat(
            "Bad samples in range",
            f"SELECT coalesce(sum(bad), 0) AS bad, coalesce(sum(uncertain), 0) AS uncertain FROM {_VALUES}",
            thresholds=[(None, "green"), (1, "red")],
        ),
        stat(
            "Good share",
            "SELECT sum(good)::float8 / nullif(sum(good + uncertain + bad), 0) AS good_share\n"
            f"FROM {_VALUES}",
            unit="percentunit", decimals=2, thresholds=[(None, "red"), (0.95, "yellow"), (0.999, "green")],
        ),
        stat(
            "Samples in range",
            f"SELECT sum(good + uncertain + bad) AS samples FROM {_VALUES}",
            unit="short", width=12,
        ),
        table(
            "Latest value",
            "SELECT tag, time, value, text_value, unit, quality, connection\n"
            "FROM grafana.tag_latest WHERE tag IN (${tag:sqlstring}) ORDER BY tag",
            width=24, height=6,
        ),
        table(
            "Raw samples (newest 500)",
            "SELECT * FROM grafana.tag_samples(ARRAY[${tag:sqlstring}]::text[], $__timeFrom(), $__timeTo(), 500)",
            description="Every stored sample with its status code, source, server and receive times.",
            width=24, height=10,
        ),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-tags",
        title="LineBrain · Tags",
        description="Pick tags; see raw and rolled-up values with their quality.",
        panels=panels,
        variables=[CONNECTION, TAG],
        time_from="now-6h",
    )


def _color(field: str, color: str) -> dict:
    return {"matcher": {"id": "byName", "options": field},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}  # fmt: skip
