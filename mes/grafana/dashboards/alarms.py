"""Alarms: the EEMUA 191 / ISA-18.2 figures of the alarm system (mes.alarms.kpi computes the same)."""

from __future__ import annotations

from mes.grafana.model import Dashboard, bargauge, stat, table, timeseries

_WINDOWS = "grafana.alarm_windows($__timeFrom(), $__timeTo())"
_SHOWN = "grafana.alarm_annunciations WHERE $__timeFilter(annunciated_at)"


def build() -> Dashboard:
    panels = [
        stat("Alarms per 10 min", f"SELECT avg(alarms)::float8 AS per_10_min FROM {_WINDOWS}", unit="short",
             thresholds=[(None, "green"), (1, "yellow"), (2, "red")],
             description="Annunciated alarms per 10-minute window (target about 1, 2 the manageable maximum)."),
        stat("Time in flood", f"SELECT avg(flood::int)::float8 AS flood_share FROM {_WINDOWS}",
             unit="percentunit", thresholds=[(None, "green"), (0.01, "yellow"), (0.05, "red")],
             description="Share of 10-minute windows with more than 10 alarms."),
        stat("Stale alarms", "SELECT count(*) AS stale FROM grafana.alarm_annunciations\n"
             "WHERE raised_at <= $__timeTo()::timestamptz - interval '24 hours'\n"
             "AND (cleared_at IS NULL OR cleared_at > $__timeTo()::timestamptz)",
             unit="short", thresholds=[(None, "green"), (1, "red")],
             description="Alarms active for more than 24 hours at the end of the range."),
        stat("Top 10 share", f"SELECT coalesce(sum(n) FILTER (WHERE rank <= 10)::float8 / nullif(sum(n), 0), 0) "
             f"AS top10_share\nFROM (SELECT count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS rank FROM {_SHOWN}"
             " GROUP BY alarm) t", unit="percentunit",
             description="Share of the alarms coming from the ten most frequent alarm points."),
        timeseries("Alarms per 10 minutes", f'SELECT "time", alarms FROM {_WINDOWS} ORDER BY 1', unit="short",
                   description="Flood above 10 (EEMUA 191)."),
        bargauge("Priority mix", f"SELECT priority, count(*)::float8 / sum(count(*)) OVER () AS share FROM {_SHOWN}\n"
                 "GROUP BY priority ORDER BY 2 DESC", unit="percentunit", min=0, max=1,
                 description="Target roughly 80% low, 15% medium, 5% high."),
        bargauge("Most frequent alarms", f"SELECT alarm, count(*) AS alarms FROM {_SHOWN}\n"
                 "GROUP BY alarm ORDER BY 2 DESC LIMIT 10", unit="short", width=24, height=8),
        table("Alarms in the range", "SELECT annunciated_at AS \"time\", priority, alarm, message, state, value\n"
              f"FROM {_SHOWN} ORDER BY annunciated_at DESC LIMIT 500"),
    ]  # fmt: skip
    return Dashboard(
        uid="linebrain-alarms",
        title="LineBrain · Alarms",
        description="Alarm rate, floods, stale alarms, top ten and priority mix (EEMUA 191 / ISA-18.2).",
        panels=panels,
        variables=[],
        time_from="now-24h",
        refresh="1m",
    )
