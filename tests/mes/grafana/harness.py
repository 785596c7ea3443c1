"""Runs dashboards the way Grafana would: resolve variables, expand macros, run every panel query."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg

from mes.grafana.macros import QueryContext, Variable, panel_interval

NUMERIC = {"int2", "int4", "int8", "float4", "float8", "numeric"}
TIME = {"timestamptz", "timestamp", "date"}
TEXT = {"text", "varchar", "bpchar", "name"}


@dataclass
class PanelResult:
    dashboard: str
    panel: str
    kind: str
    sql: str
    columns: list[tuple[str, str]]
    rows: list[tuple[Any, ...]]
    seconds: float


def _type_names(conn: psycopg.Connection, cursor: psycopg.Cursor) -> list[tuple[str, str]]:
    columns = []
    for column in cursor.description or []:
        row = conn.execute("SELECT typname FROM pg_type WHERE oid = %s", (column.type_code,)).fetchone()
        columns.append((column.name, row[0] if row else "?"))
    return columns


def resolve_variables(conn: psycopg.Connection, dashboard: dict, context: QueryContext) -> None:
    """Fill ``context.variables`` as Grafana does on load: each query variable in order, each
    seeing the ones before it; multi-value variables take every value ("All" when offered)."""
    for definition in dashboard["templating"]["list"]:
        cursor = conn.execute(context.expand(definition["query"]))
        names = [column.name for column in cursor.description or []]
        rows = cursor.fetchall()
        assert rows, f"{dashboard['uid']}: variable ${definition['name']} has no values"
        value_at = names.index("__value") if "__value" in names else 0
        text_at = names.index("__text") if "__text" in names else value_at
        values = [str(row[value_at]) for row in rows]
        texts = [str(row[text_at]) for row in rows]
        multi = bool(definition.get("multi"))
        include_all = bool(definition.get("includeAll"))
        chosen = values if (multi or include_all) else values[:1]
        context.variables[definition["name"]] = Variable(
            definition["name"], chosen, texts if (multi or include_all) else texts[:1], multi=multi,
            include_all=include_all, all_selected=include_all, all_value=definition.get("allValue"),
        )  # fmt: skip


def check_shape(result: PanelResult, shape: str) -> list[str]:
    """Problems with ``result`` for a panel that expects ``shape`` (see model.Shape)."""
    problems = []
    types = dict(result.columns)
    if not result.rows:
        problems.append("returned no rows")
    numeric = [name for name, kind in result.columns if kind in NUMERIC]
    if shape == "timeseries":
        kind = types.get("time")
        if kind not in TIME and kind not in NUMERIC:
            problems.append(f"no time column (columns: {result.columns})")
        else:
            times = [row[[n for n, _ in result.columns].index("time")] for row in result.rows]
            if times != sorted(times):
                problems.append("rows are not sorted by time")
        if result.kind == "timeseries" and not [n for n in numeric if n != "time"]:
            problems.append("no numeric value column")
        if result.kind == "state-timeline" and len(result.columns) < 2:
            problems.append("no state column")
    elif shape == "numbers":
        if not numeric:
            problems.append(f"no numeric column (columns: {result.columns})")
    elif shape == "categories":
        if not result.columns or result.columns[0][1] not in TEXT:
            problems.append(f"first column is not text (columns: {result.columns})")
        if not numeric:
            problems.append("no numeric column")
    return problems


def run_dashboard(conn: psycopg.Connection, dashboard: dict, time_from: datetime, time_to: datetime,
                  max_points: int = 1000) -> list[PanelResult]:  # fmt: skip
    """Every panel query of ``dashboard``, expanded and run; raises on the first SQL error."""
    context = QueryContext(time_from, time_to, panel_interval(time_from, time_to, max_points))
    resolve_variables(conn, dashboard, context)
    results = []
    for panel in dashboard["panels"]:
        for panel_context in _repeats(panel, context):
            for target in panel["targets"]:
                results.append(_run(conn, dashboard, panel, panel_context.expand(target["rawSql"])))
    return results


def _repeats(panel: dict, context: QueryContext) -> list[QueryContext]:
    """A repeated panel is drawn once per value of its variable, with only that value selected."""
    name = panel.get("repeat")
    if not name:
        return [context]
    variable = context.variables[name]
    contexts = []
    for value in variable.values:
        single = replace(variable, values=[value], texts=[value], all_selected=False)
        contexts.append(replace(context, variables={**context.variables, name: single}))
    return contexts


def _run(conn: psycopg.Connection, dashboard: dict, panel: dict, sql: str) -> PanelResult:
    started = time.perf_counter()
    try:
        cursor = conn.execute(sql)
        rows = cursor.fetchall()
    except psycopg.Error as exc:
        raise AssertionError(f"{dashboard['uid']} / {panel['title']}: {exc}\n{sql}") from exc
    return PanelResult(dashboard["uid"], panel["title"], panel["type"], sql, _type_names(conn, cursor), rows,
                       time.perf_counter() - started)  # fmt: skip
