"""The SPC panels (grafana.spc_points) plot the points mes.quality plots, on both flavours.

The Python side (mes.quality.spc.chart_data + charts.plot) is the model: it forms the
subgroups in Python from the rows it reads, the panel's SQL forms them in the database
(mes/sql 0083, with the time bounds of 0095). Every kind of subgroup is compared: inspection
records (X̄-R, p), a tag per time bucket (I-MR: the bucket's mean; X̄-S: its first n values)
and a tag in consecutive runs of n. The extra charts live in a transaction that is rolled back,
so the shared Grafana database keeps its three charts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from mes.quality.charts import ChartType, plot
from mes.quality.spc import ChartIn, _limits_of, chart_data, compute_phase_one, create_chart, freeze, get_chart
from tests.mes.grafana.conftest import GrafanaDatabase

EXTRA = [
    ChartIn(name="zz oven X̄-S per 30 s", chart_type="xbar_s", source="tag", tag="oven_temp", subgroup_size=4,
            subgroup_seconds=30),
    ChartIn(name="zz oven X̄-R in runs of 5", chart_type="xbar_r", source="tag", tag="oven_temp", subgroup_size=5),
]  # fmt: skip


@pytest.fixture(scope="module")
def charts(grafana_db: GrafanaDatabase) -> Iterator[tuple[psycopg.Connection, list[int]]]:
    with psycopg.connect(grafana_db.url, row_factory=dict_row) as conn:
        ids = [row["id"] for row in conn.execute("SELECT id FROM spc_charts ORDER BY id").fetchall()]
        for chart_in in EXTRA:
            chart = create_chart(conn, chart_in)
            compute_phase_one(conn, chart["id"], grafana_db.start, grafana_db.end)
            freeze(conn, chart["id"], by="qa lead")
            ids.append(chart["id"])
        yield conn, ids
        conn.rollback()


def model_points(conn: psycopg.Connection, chart_id: int, start: datetime, end: datetime) -> list[tuple]:
    chart = get_chart(conn, chart_id)
    times, data = chart_data(conn, chart, start, end)
    plotted = plot(_limits_of(chart), data)
    points = [(times[p.index], "primary", p.value) for p in plotted.primary]
    return sorted(points + [(times[p.index], "secondary", p.value) for p in plotted.secondary])


def test_spc_points_are_the_points_mes_quality_plots(grafana_db: GrafanaDatabase, charts: tuple) -> None:
    conn, ids = charts
    kinds = set()
    for chart_id in ids:
        chart = get_chart(conn, chart_id)
        # The panel's SQL reads the last 1000 subgroups: runs of 5 of 1 s samples, twenty minutes of them.
        runs = chart["source"] == "tag" and chart["subgroup_seconds"] is None
        start, end = grafana_db.end - timedelta(minutes=20) if runs else grafana_db.start, grafana_db.end
        kinds.add((chart["source"], ChartType(chart["chart_type"]), chart["subgroup_seconds"] is not None))
        expected = model_points(conn, chart_id, start, end)
        plotted = conn.execute("SELECT time, part, value FROM grafana.spc_points(%s, %s, %s)", (chart_id, start, end))
        got = sorted((r["time"], r["part"], r["value"]) for r in plotted.fetchall())
        assert len(got) == len(expected) > 4, chart["name"]
        for (t, part, value), (t_model, part_model, value_model) in zip(got, expected, strict=True):
            assert (t, part) == (t_model, part_model), chart["name"]
            assert value == pytest.approx(value_model, rel=1e-9, abs=1e-9), (chart["name"], t, part)
    assert kinds >= {("inspections", ChartType.xbar_r, False), ("inspections", ChartType.p, False),
                     ("tag", ChartType.imr, True), ("tag", ChartType.xbar_s, True),
                     ("tag", ChartType.xbar_r, False)}  # fmt: skip
