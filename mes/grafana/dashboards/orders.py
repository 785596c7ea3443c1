"""Orders: progress against plan, projected finish, and each order's KPIs."""

from __future__ import annotations

from mes.grafana.dashboards.variables import AREA, LINES, PRODUCT, SITE, percent_fields
from mes.grafana.model import Dashboard, barchart, bargauge, stat, table

_ORDERS = "grafana.orders(ARRAY[$line]::text[], ARRAY[${product:sqlstring}]::text[], $__timeFrom(), $__timeTo())"


def build() -> Dashboard:
    ratios = ("progress", "oee", "availability", "effectiveness", "quality_ratio")
    panels = [
        stat("Running", f"SELECT count(*) FILTER (WHERE status = 'running') AS running FROM {_ORDERS}", width=6),
        stat("Projected late", f"SELECT count(*) FILTER (WHERE late) AS late FROM {_ORDERS}", width=6,
             thresholds=[(None, "green"), (1, "red")]),
        stat("Good units (orders in range)", f"SELECT coalesce(sum(good), 0) AS good FROM {_ORDERS}", width=6,
             unit="short"),
        stat("Scrap units (orders in range)", f"SELECT coalesce(sum(scrap), 0) AS scrap FROM {_ORDERS}", width=6,
             unit="short"),
        bargauge("Progress", f"SELECT order_number || ' · ' || line AS order_line, progress FROM {_ORDERS}\n"
                 "WHERE status IN ('running', 'paused', 'released') OR started IS NOT NULL",
                 unit="percentunit", min=0, max=1, width=12, height=8),
        barchart("KPIs per order", f"SELECT order_number, oee, availability, effectiveness, quality_ratio\n"
                 f"FROM {_ORDERS} WHERE oee IS NOT NULL", unit="percentunit", width=12, height=8),
        table("Orders", f"SELECT * FROM {_ORDERS}", width=24, height=10,
              description="Projected finish: now + remaining good units at the order's good rate so far.",
              overrides=percent_fields(*ratios)),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-orders",
        title="LineBrain · Orders",
        description="Work orders: progress, projected finish against due date, per-order KPIs.",
        panels=panels,
        variables=[SITE, AREA, LINES, PRODUCT],
        time_from="now-7d",
    )
