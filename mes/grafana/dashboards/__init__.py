"""One module per dashboard; each has ``build() -> Dashboard``. Export order is this list's order."""

from __future__ import annotations

from collections.abc import Callable

from mes.grafana.dashboards import alarms, collector_health, line_detail, orders, overview, quality, tags
from mes.grafana.model import Dashboard

BUILDERS: list[Callable[[], Dashboard]] = [
    overview.build,
    line_detail.build,
    orders.build,
    quality.build,
    tags.build,
    collector_health.build,
    alarms.build,
]


def all_dashboards() -> list[Dashboard]:
    return [build() for build in BUILDERS]
