"""Variables shared by the production dashboards: site → area → line, product, shift.

Each query variable reads the grafana schema and filters by the ones before it,
so picking a site narrows the areas and lines. The shift picker lists the
shifts of the chosen lines inside the time range; choosing one makes every
panel use that shift instead of the range (see grafana.time_window).
"""

from __future__ import annotations

from mes.grafana.model import QueryVariable

SITE = QueryVariable(
    "site", "Site", "SELECT DISTINCT site_id AS __value, site_name AS __text FROM grafana.lines ORDER BY 2",
    multi=True, include_all=True,
)  # fmt: skip
AREA = QueryVariable(
    "area", "Area",
    "SELECT DISTINCT area_id AS __value, area_name AS __text FROM grafana.lines WHERE site_id IN ($site) ORDER BY 2",
    multi=True, include_all=True,
)  # fmt: skip
_LINES = (
    "SELECT line_id AS __value, line_name AS __text FROM grafana.lines\n"
    "WHERE site_id IN ($site) AND area_id IN ($area) ORDER BY 2"
)
LINES = QueryVariable("line", "Line", _LINES, multi=True, include_all=True)
LINE = QueryVariable("line", "Line", _LINES)
PRODUCT = QueryVariable(
    "product", "Product", "SELECT product_id AS __value, product_name AS __text FROM grafana.products ORDER BY 2",
    multi=True, include_all=True,
)  # fmt: skip
SHIFT = QueryVariable(
    "shift", "Shift",
    "SELECT __value, __text FROM grafana.shift_choices(ARRAY[${line:sqlstring}]::text[], $__timeFrom(), $__timeTo())",
)  # fmt: skip

# The window arguments every production function takes.
WINDOW = "$__timeFrom(), $__timeTo(), ${shift:sqlstring}"
BUCKETED_WINDOW = "$__timeFrom(), $__timeTo(), $__interval_ms, ${shift:sqlstring}"

STATE_COLORS = {
    "running": "green", "idle": "yellow", "starved": "orange", "blocked": "orange", "fault": "red",
    "changeover": "blue", "planned_stop": "purple", "unknown": "text",
}  # fmt: skip


def state_mappings() -> list[dict]:
    """Value mappings that colour and name machine states alike on every panel."""
    options = {
        state: {"text": state.replace("_", " ").capitalize(), "color": color, "index": index}
        for index, (state, color) in enumerate(STATE_COLORS.items())
    }
    return [{"type": "value", "options": options}]


def percent_fields(*names: str) -> list[dict]:
    """Overrides giving ratio columns a percent unit."""
    return [
        {"matcher": {"id": "byName", "options": name},
         "properties": [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1}]}
        for name in names
    ]  # fmt: skip
