"""Collector health: what the store commits, how late, and which connections deliver bad data."""

from __future__ import annotations

from mes.grafana.dashboards.tags import CONNECTION
from mes.grafana.model import Dashboard, bargauge, stat, timeseries

_RANGE = "$__timeFrom(), $__timeTo(), $__interval_ms"
_CONNECTIONS = "ARRAY[${connection:sqlstring}]::text[]"


def build() -> Dashboard:
    panels = [
        stat("Samples committed", "SELECT coalesce(sum(rows), 0) AS samples FROM grafana.store_batches\n"
             "WHERE $__timeFilter(committed_at)", unit="short"),
        stat("Batches committed", "SELECT count(*) AS batches FROM grafana.store_batches\n"
             "WHERE $__timeFilter(committed_at)", unit="short"),
        stat("Median store latency", "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency) AS latency\n"
             "FROM grafana.store_batches WHERE $__timeFilter(committed_at)", unit="s",
             thresholds=[(None, "green"), (5, "yellow"), (30, "red")]),
        stat("Bad samples", f"SELECT coalesce(sum(bad), 0) AS bad FROM grafana.connection_quality({_CONNECTIONS}, "
             f"{_RANGE})", unit="short", thresholds=[(None, "green"), (1, "red")]),
        timeseries("Samples per second", f"SELECT * FROM grafana.store_throughput({_RANGE})", unit="short",
                   description="Rows the store committed per second, per store process (batch ledger)."),
        timeseries("Store latency", f"SELECT * FROM grafana.store_latency({_RANGE})", unit="s",
                   description="Age of a batch's newest sample when the batch committed: acquisition to "
                   "queryable. Spool replays after an outage show as peaks."),
        timeseries("Batches per interval",
                   "SELECT $__timeGroupAlias(committed_at, $__interval), count(*) AS batches, sum(rows) AS samples\n"
                   "FROM grafana.store_batches WHERE $__timeFilter(committed_at) GROUP BY 1 ORDER BY 1",
                   unit="short"),
        timeseries("Bad samples by connection",
                   f'SELECT "time", connection, bad FROM grafana.connection_quality({_CONNECTIONS}, {_RANGE})\n'
                   "ORDER BY 1", unit="short", stack=True,
                   description="Samples with a Bad status per connection: timeouts, lost links, device errors."),
        bargauge("Bad share by connection",
                 "SELECT connection, sum(bad)::float8 / nullif(sum(good + uncertain + bad), 0) AS bad_share\n"
                 f"FROM grafana.connection_quality({_CONNECTIONS}, {_RANGE}) GROUP BY 1 ORDER BY 2 DESC",
                 unit="percentunit", width=24, height=6, min=0, max=1,
                 thresholds=[(None, "green"), (0.001, "yellow"), (0.05, "red")]),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-collectors",
        title="LineBrain · Collector health",
        description="Throughput, latency and errors of the collectors and the store.",
        panels=panels,
        variables=[CONNECTION],
        time_from="now-6h",
        refresh="30s",
    )
