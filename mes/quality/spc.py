"""Stored SPC charts: data from inspections or a tag, Phase I → frozen Phase II, violations as events.

A chart reads its points from inspection records of a spec (a record is a
subgroup: its measurements, or its nonconforming count and sample size, or
its defect count) or straight from a tag's samples, subgrouped by count
(``subgroup_size`` consecutive samples) or by time (the first
``subgroup_size`` samples of every ``subgroup_seconds`` bucket; I–MR takes
the bucket mean). :func:`compute_phase_one` stores trial limits from a
period; :func:`freeze` fixes them (Phase II); :func:`evaluate` judges the
points after the Phase I period against the frozen limits, records each rule
violation once in ``spc_violations`` and raises a quality event for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import Field, model_validator

from mes.bounds import PositiveSeconds, SerialId
from mes.quality.alarms import spc_alarm
from mes.quality.charts import ChartData, ChartLimits, ChartType, PlottedChart, Point, compute_limits, plot
from mes.quality.db import one, rows
from mes.quality.errors import InvalidTransition, QualityError
from mes.quality.events import record_event
from mes.quality.models import QualityInput
from mes.quality.rules import RULES, Violation, check_rules, default_rules


class ChartIn(QualityInput):
    name: str = Field(min_length=1, max_length=200)
    chart_type: ChartType
    source: Literal["inspections", "tag"] = "inspections"
    spec_id: SerialId | None = None
    tag: str | None = None
    subgroup_size: int | None = Field(default=None, ge=1, le=500)
    subgroup_seconds: PositiveSeconds | None = None
    rule_set: Literal["nelson", "western_electric"] = "nelson"
    rules: list[str] | None = Field(default=None, description="rule codes; default: the set's rules for the chart")

    @model_validator(mode="after")
    def _source_fields(self) -> ChartIn:
        if self.source == "inspections" and self.spec_id is None:
            raise ValueError("a chart of inspections needs spec_id")
        if self.source == "tag":
            if not self.tag:
                raise ValueError("a chart of a tag needs tag")
            if self.chart_type.is_attribute:
                raise ValueError("attribute charts (p, np, c, u) come from inspections, not from a tag")
            if self.chart_type in (ChartType.xbar_r, ChartType.xbar_s) and (self.subgroup_size or 0) < 2:
                raise ValueError(f"{self.chart_type.value} from a tag needs subgroup_size >= 2")
        unknown = [r for r in self.rules or [] if r not in RULES]
        if unknown:
            raise ValueError(f"unknown rules {unknown}; known: {sorted(RULES)}")
        return self


def create_chart(conn: psycopg.Connection, chart: ChartIn) -> dict[str, Any]:
    if rows(conn, "SELECT 1 FROM spc_charts WHERE name = %s", (chart.name,)):
        raise QualityError(f"an SPC chart named {chart.name!r} already exists")
    if chart.spec_id is not None:
        one(conn, "SELECT id FROM quality_specs WHERE id = %s", (chart.spec_id,), what=f"spec {chart.spec_id}")
    return one(
        conn,
        "INSERT INTO spc_charts (name, spec_id, chart_type, source, tag, subgroup_size, subgroup_seconds, rule_set, "
        "rules) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (chart.name, chart.spec_id, chart.chart_type.value, chart.source, chart.tag, chart.subgroup_size,
         chart.subgroup_seconds, chart.rule_set, chart.rules),
    )  # fmt: skip


def get_chart(conn: psycopg.Connection, chart_id: int) -> dict[str, Any]:
    return one(conn, "SELECT * FROM spc_charts WHERE id = %s", (chart_id,), what=f"SPC chart {chart_id}")


def list_charts(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM spc_charts ORDER BY id")


def chart_data(
    conn: psycopg.Connection, chart: dict[str, Any], start: datetime | None = None, end: datetime | None = None
) -> tuple[list[datetime], ChartData]:
    """The chart's subgroups in [start, end), with the time of each."""
    kind = ChartType(chart["chart_type"])
    if chart["source"] == "inspections":
        return _from_inspections(conn, chart, kind, start, end)
    return _from_tag(conn, chart, kind, start, end)


def _from_inspections(conn, chart, kind: ChartType, start, end) -> tuple[list[datetime], ChartData]:
    records = rows(
        conn,
        """
        SELECT r.time, r.measurements, r.sample_size, r.nonconforming,
               coalesce((SELECT sum(count) FROM inspection_defects d WHERE d.record_id = r.id), 0) AS defects
        FROM inspection_records r
        WHERE r.spec_id = %(spec)s AND (%(start)s::timestamptz IS NULL OR r.time >= %(start)s)
          AND (%(end)s::timestamptz IS NULL OR r.time < %(end)s)
        ORDER BY r.time, r.id
        """,
        {"spec": chart["spec_id"], "start": start, "end": end},
    )
    times: list[datetime] = []
    data = ChartData()
    for r in records:
        if kind in (ChartType.xbar_r, ChartType.xbar_s):
            size = chart["subgroup_size"] or (len(records[0]["measurements"]) if records else 0)
            if len(r["measurements"]) != size:
                continue  # not a complete subgroup of this chart
            data.subgroups.append(list(r["measurements"]))
            times.append(r["time"])
        elif kind is ChartType.imr:
            data.values.extend(r["measurements"])
            times.extend([r["time"]] * len(r["measurements"]))
        elif kind in (ChartType.p, ChartType.np):
            data.counts.append(r["nonconforming"])
            data.sizes.append(r["sample_size"])
            times.append(r["time"])
        else:
            data.counts.append(float(r["defects"]))
            data.sizes.append(r["sample_size"])
            times.append(r["time"])
    return times, data


def _from_tag(conn, chart, kind: ChartType, start, end) -> tuple[list[datetime], ChartData]:
    samples = rows(
        conn,
        """
        SELECT x.time, x.value FROM samples x JOIN tags t ON t.id = x.tag_id
        WHERE t.name = %(tag)s AND x.status < 1073741824 AND x.value IS NOT NULL
          AND (%(start)s::timestamptz IS NULL OR x.time >= %(start)s)
          AND (%(end)s::timestamptz IS NULL OR x.time < %(end)s)
        ORDER BY x.time
        """,
        {"tag": chart["tag"], "start": start, "end": end},
    )
    size = chart["subgroup_size"] or 1
    groups: list[tuple[datetime, list[float]]] = []
    if chart["subgroup_seconds"]:
        buckets: dict[int, tuple[datetime, list[float]]] = {}
        for s in samples:
            key = int(s["time"].timestamp() // chart["subgroup_seconds"])
            buckets.setdefault(key, (s["time"], []))[1].append(s["value"])
        for first, values in buckets.values():
            if kind is ChartType.imr:
                groups.append((first, [sum(values) / len(values)]))
            elif len(values) >= size:
                groups.append((first, values[:size]))
    else:
        step = 1 if kind is ChartType.imr else size
        for i in range(0, len(samples) - step + 1, step):
            groups.append((samples[i]["time"], [s["value"] for s in samples[i : i + step]]))
    times = [t for t, _ in groups]
    if kind is ChartType.imr:
        return times, ChartData(values=[g[0] for _, g in groups])
    return times, ChartData(subgroups=[g for _, g in groups])


def compute_phase_one(
    conn: psycopg.Connection, chart_id: int, start: datetime | None, end: datetime | None,
    exclude: Sequence[int] = (),
) -> dict[str, Any]:  # fmt: skip
    """Trial limits from the data in [start, end), leaving out the subgroups at positions ``exclude``."""
    chart = get_chart(conn, chart_id)
    if chart["phase"] == "phase2":
        raise InvalidTransition(f"chart {chart['name']} is frozen (Phase II): unfreeze it to recompute limits")
    times, data = chart_data(conn, chart, start, end)
    limits = compute_limits(ChartType(chart["chart_type"]), data, exclude)
    # Phase II starts where the Phase I period ends: at ``end``, or just after its last point.
    phase_two_from = end or (times[-1] + timedelta(microseconds=1) if times else None)
    stored = limits.to_dict() | {"period": [_iso(start or (times[0] if times else None)), _iso(phase_two_from)]}
    conn.execute("UPDATE spc_charts SET limits = %s WHERE id = %s", (Jsonb(_jsonable(stored)), chart_id))
    return get_chart(conn, chart_id)


def freeze(conn: psycopg.Connection, chart_id: int, by: str) -> dict[str, Any]:
    """Fix the Phase I limits: from now on new points are judged against them (Phase II)."""
    if not by:
        raise QualityError("freezing limits needs the name of who approves them")
    chart = get_chart(conn, chart_id)
    if chart["limits"] is None:
        raise InvalidTransition(f"chart {chart['name']} has no Phase I limits yet")
    conn.execute("UPDATE spc_charts SET phase = 'phase2', frozen_at = now(), frozen_by = %s WHERE id = %s",
                 (by, chart_id))
    return get_chart(conn, chart_id)


def unfreeze(conn: psycopg.Connection, chart_id: int, by: str) -> dict[str, Any]:
    if not by:
        raise QualityError("unfreezing limits needs the name of who decides it")
    conn.execute("UPDATE spc_charts SET phase = 'phase1', frozen_at = NULL, frozen_by = %s WHERE id = %s",
                 (by, chart_id))
    return get_chart(conn, chart_id)


def _limits_of(chart: dict[str, Any]) -> ChartLimits:
    return ChartLimits.from_dict(chart["limits"])


def chart_rules(chart: dict[str, Any]) -> tuple[str, ...]:
    return tuple(chart["rules"]) if chart["rules"] else default_rules(ChartType(chart["chart_type"]), chart["rule_set"])


def evaluate(conn: psycopg.Connection, chart_id: int, until: datetime | None = None) -> dict[str, Any]:
    """Judge the points after the Phase I period against the frozen limits; record new violations.

    Returns the plotted points (with times) and the violations found, new or not.
    """
    chart = get_chart(conn, chart_id)
    if chart["phase"] != "phase2":
        raise InvalidTransition(f"chart {chart['name']} is in Phase I: freeze its limits before judging new data")
    limits = _limits_of(chart)
    phase_one_end = chart["limits"].get("period", [None, None])[1]
    start = datetime.fromisoformat(phase_one_end) if phase_one_end else None
    times, data = chart_data(conn, chart, start, until)  # the points after the Phase I period [start, end)
    if data.length(ChartType(chart["chart_type"])) == 0:
        return {"chart": chart, "points": [], "violations": []}
    plotted = plot(limits, data)
    violations = _violations(conn, chart, plotted, times)
    if times:
        conn.execute("UPDATE spc_charts SET checked_until = %s WHERE id = %s", (times[-1], chart_id))
    return {"chart": chart, "points": _points(plotted, times), "violations": violations}


def rule_violations(chart: dict[str, Any], plotted: PlottedChart) -> list[tuple[str, Violation, Point]]:
    """(chart part, violation, the point completing it) of the chart's rules, nothing stored: the
    primary chart under the chart's rules; R, S and MR charts only beyond their limits (their
    distribution is skewed)."""
    parts = [("primary", plotted.primary, chart_rules(chart))]
    if plotted.secondary:
        parts.append(("secondary", plotted.secondary, ("nelson1",) if chart["rule_set"] == "nelson" else ("we1",)))
    found: list[tuple[str, Violation, Point]] = []
    for part, points, codes in parts:
        by_index = {p.index: p for p in points}
        found.extend((part, violation, by_index[violation.index]) for violation in check_rules(points, codes))
    return found


def _violations(conn, chart: dict, plotted: PlottedChart, times: list[datetime]) -> list[dict[str, Any]]:
    kind = ChartType(chart["chart_type"])
    found: list[dict[str, Any]] = []
    for part, violation, point in rule_violations(chart, plotted):
        when = times[violation.index]
        saved = rows(
            conn,
            "INSERT INTO spc_violations (chart_id, rule, chart_part, point_time, value, description) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (chart_id, rule, chart_part, point_time) DO NOTHING "
            "RETURNING id",
            (chart["id"], violation.rule, part, when, point.value, violation.description),
        )
        if saved:
            record_event(
                conn, "spc_violation",
                f"SPC {chart['name']} ({kind.value}{'' if part == 'primary' else ' spread'}): "
                f"{violation.description} at {when:%Y-%m-%d %H:%M:%S}, value {point.value:.6g}",
                time=when, source_id=saved[0]["id"], rule=violation.rule,
                details={"chart_id": chart["id"], "chart_part": part, "value": point.value,
                         "points": [_iso(times[i]) for i in violation.points]},
            )  # fmt: skip
            spc_alarm(conn, chart, when, point.value, violation.description)
        found.append({"rule": violation.rule, "chart_part": part, "time": when, "value": point.value,
                      "description": violation.description})
    return found


def _points(plotted: PlottedChart, times: list[datetime]) -> list[dict[str, Any]]:
    secondary = {p.index: p for p in plotted.secondary}
    out = []
    for p in plotted.primary:
        point = asdict(p) | {"time": times[p.index]}
        if p.index in secondary:
            s = secondary[p.index]
            point["spread"] = {"value": s.value, "center": s.center, "lcl": s.lcl, "ucl": s.ucl}
        out.append(point)
    return out


def list_violations(conn: psycopg.Connection, chart_id: int) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM spc_violations WHERE chart_id = %s ORDER BY point_time, rule", (chart_id,))


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):  # a StrEnum (chart type, ...)
        return str(value.value)
    return value


def spec_capability(
    conn: psycopg.Connection, spec_id: int, start: datetime | None = None, end: datetime | None = None,
    estimator: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Cp/Cpk/Pp/Ppk of a spec's inspection measurements in [start, end).

    Records of one size ≥ 2 are subgroups (σ within = R̄/d2 or S̄/c4);
    otherwise the measurements are individuals in time order (MR̄/d2).
    """
    from mes.quality.capability import capability

    spec = one(conn, "SELECT * FROM quality_specs WHERE id = %s", (spec_id,), what=f"spec {spec_id}")
    records = rows(
        conn,
        "SELECT measurements FROM inspection_records WHERE spec_id = %(s)s AND cardinality(measurements) > 0 "
        "AND (%(a)s::timestamptz IS NULL OR time >= %(a)s) AND (%(b)s::timestamptz IS NULL OR time < %(b)s) "
        "ORDER BY time, id",
        {"s": spec_id, "a": start, "b": end},
    )
    groups = [list(r["measurements"]) for r in records]
    sizes = {len(g) for g in groups}
    if len(sizes) == 1 and min(sizes) >= 2 and len(groups) >= 2:
        result = capability(spec["lsl"], spec["usl"], subgroups=groups, estimator=estimator)
    else:
        result = capability(spec["lsl"], spec["usl"], values=[v for g in groups for v in g], estimator=estimator)
    return asdict(result) | {"capable": result.capable, "spec_id": spec_id, "characteristic": spec["characteristic"]}
