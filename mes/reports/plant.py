"""Plant reports: every line of the plant in one shift, day, week or month report.

**Window.** A plant day, week or month is the plant-local calendar period, the same for every
line. A plant *shift* is a shift name on a plant-local day ("2026-03-04 early"): each line
contributes its own instance of that shift (lines may run different calendars, so "early" may
be 06:00–14:00 on one line and 07:00–15:00 on another); a line without such a shift is listed
as having none. The report's own window is the union of those instances; alarms without a line
and the utilities' meters are read over it.

**Aggregation (ISO 22400).** Never an average of percentages: the lines' time elements (PBT,
APT, ADET, ...), quantities (PQ, GQ, SQ, RQ), ideal times (PRU x PQ) and kWh are summed, and the
ratios are computed from those sums by ``grafana._kpi_ratios`` — the function Grafana uses when
it sums hours of a line, so a plant is read exactly like a longer window of one line. Hence
availability = ΣAPT/ΣPBT, performance = Σ(PRU·PQ)/ΣAPT, quality = ΣGQ/ΣPQ and OEE their product.
The loss waterfall sums the lines' PBT, APT and net production time; its quality loss and fully
productive time follow from the plant's effective PRU (ΣPRU·PQ / ΣPQ), as ``mes_kpi`` does for a
line making several products, so the last bar over PBT is the plant's OEE. Every per-line figure
is read through the same functions as the line report (``mes.reports.content``).

**Energy.** kWh per good unit of the plant = (the lines' kWh + the utilities' kWh) / ΣGQ. A
utility meter is a line of the config that binds only an energy meter (no state, no counters:
compressors, chillers, the site's sub-meters not assigned to a line); its kWh over the plant
window count for the plant, not for a line.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from mes.alarms import store as alarm_store
from mes.alarms.andon import totals_by_kind
from mes.db import first
from mes.energy import energy_split
from mes.errors import InvalidInput, NotFound
from mes.production import kpi
from mes.production.equipment import SITE_ID
from mes.reports import content, records
from mes.reports.content import Progress, Row
from mes.reports.periods import KINDS, ReportPeriod, calendar_period, shift_period
from mes.reports.store import PLANT  # stored plant reports belong to the site (stored_reports.line_id)

SUMMED = ("pot", "pdt", "pbt", "aubt", "adot", "adet", "aust", "apt", "aupt", "no_data_time", "pq", "gq", "sq", "rq",
          "pq_total", "gq_total", "ideal_time", "energy")  # fmt: skip
PLANT_SECTIONS = ("lines", "oee", "production", "downtime", "quality", "alarms", "andon", "energy")


def is_plant(period: ReportPeriod) -> bool:
    return period.line_id == PLANT


def plant_lines(conn: psycopg.Connection) -> tuple[list[Row], list[Row]]:
    """(production lines, utility meters): active lines, the latter binding only an energy meter."""
    found = records.lines_with_bindings(conn)
    utilities = [row for row in found if row["state_tag"] is None and row["kinds"] == ["energy"]]
    return [row for row in found if row not in utilities], utilities


def _timezone(conn: psycopg.Connection) -> str:
    row = first(conn, "SELECT timezone FROM equipment WHERE id = %s", (SITE_ID,))
    if row is None:
        raise NotFound("no plant in the database (load the plant config first)", field="line")
    return str(row["timezone"])


def _shift_instances(conn: psycopg.Connection, lines: list[Row], since: datetime, until: datetime) -> list[Row]:
    from mes.production import shifts

    return [s for line in lines for s in shifts.list_shifts(conn, line["id"], since, until)]


def plant_period(conn: psycopg.Connection, kind: str, day: date | None = None, shift_name: str | None = None,
                 now: datetime | None = None) -> ReportPeriod:
    """The plant period a user asks for; without ``day`` the last one closed by ``now`` (a shift:
    the last shift name and day whose every line's instance has ended)."""
    if kind not in KINDS:
        raise InvalidInput(f"report kind is one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    timezone = _timezone(conn)
    now = now or datetime.now(UTC)
    tz = ZoneInfo(timezone)
    if kind != "shift":
        if day is None:
            current = calendar_period(PLANT, kind, now.astimezone(tz).date(), timezone)
            day = (current.start.astimezone(tz) - timedelta(days=1)).date()
        return calendar_period(PLANT, kind, day, timezone)
    lines, _utilities = plant_lines(conn)
    around = now if day is None else datetime.combine(day, time(12), tz).astimezone(UTC)
    found = plant_shifts(conn, lines, around - timedelta(days=2), around + timedelta(days=2), timezone)
    if day is not None:
        found = [p for p in found if p.label.startswith(day.isoformat())]
    if shift_name is not None:
        named = [p for p in found if p.shift_name == shift_name]
        if not named:
            names = sorted({p.shift_name or "" for p in found})
            raise NotFound(f"no shift {shift_name!r} on {day or 'the last days'} "
                           f"(shifts: {', '.join(names) or 'none'})", field="shift")  # fmt: skip
        return named[-1]
    ended = [p for p in found if p.end <= now]
    if not ended:
        raise NotFound(f"no plant shift has ended {'on ' + str(day) if day else 'yet'}", field="date")
    return ended[-1]


def plant_shifts(conn: psycopg.Connection, lines: list[Row], since: datetime, until: datetime,
                 timezone: str) -> list[ReportPeriod]:
    """Plant shifts (a shift name on a local day) overlapping [since, until), by end: each spans
    the union of its lines' instances."""
    spans: dict[tuple[date, str], tuple[datetime, datetime]] = {}
    for s in _shift_instances(conn, lines, since, until):
        key = (s["local_date"], s["name"])
        lo, hi = spans.get(key, (s["start"], s["end"]))
        spans[key] = (min(lo, s["start"]), max(hi, s["end"]))
    periods = [shift_period(PLANT, {"local_date": d, "name": n, "start": lo, "end": hi}, timezone)
               for (d, n), (lo, hi) in spans.items()]  # fmt: skip
    return sorted(periods, key=lambda p: (p.end, p.start))


def closed_plant_periods(conn: psycopg.Connection, kind: str, since: datetime, until: datetime) -> list[ReportPeriod]:
    """Every plant period of ``kind`` that ends in (since, until]: what a plant schedule generates."""
    from mes.reports.periods import closed_periods

    timezone = _timezone(conn)
    if kind != "shift":
        lines, _utilities = plant_lines(conn)
        if not lines:
            return []
        return [calendar_period(PLANT, kind, p.start.astimezone(ZoneInfo(timezone)).date(), timezone)
                for p in closed_periods(conn, lines[0]["id"], kind, since, until)]  # fmt: skip
    lines, _utilities = plant_lines(conn)
    found = plant_shifts(conn, lines, since - timedelta(days=1), until, timezone)
    return [p for p in found if since < p.end <= until]


def line_periods(conn: psycopg.Connection, period: ReportPeriod,
                 lines: list[Row]) -> list[tuple[Row, ReportPeriod | None]]:  # fmt: skip
    """Each line with its own window of the plant period (None: the line has no such shift)."""
    if period.kind != "shift":
        return [(line, ReportPeriod(period.kind, line["id"], period.start, period.end, period.label, period.timezone))
                for line in lines]  # fmt: skip
    day = period.label.split(" ", 1)[0]
    out: list[tuple[Row, ReportPeriod | None]] = []
    for line in lines:
        from mes.production import shifts

        mine = [s for s in shifts.list_shifts(conn, line["id"], period.start - timedelta(days=1),
                                              period.end + timedelta(days=1))
                if s["name"] == period.shift_name and s["local_date"].isoformat() == day]  # fmt: skip
        out.append((line, shift_period(line["id"], mine[0], period.timezone) if mine else None))
    return out


def ratios(conn: psycopg.Connection, total: Row) -> Row:
    """The ISO 22400 ratios of summed elements (``grafana._kpi_ratios``, what Grafana sums hours with)."""
    row = first(conn, "SELECT * FROM grafana._kpi_ratios(%s, %s, %s, %s, %s, %s, %s)",
                (total["pbt"], total["apt"], total["ideal_time"], total["pq"], total["gq"], total["sq"], total["rq"]))
    assert row is not None
    return row


def sum_rows(conn: psycopg.Connection, rows: list[Row]) -> Row:
    """Lines' KPI rows summed element by element, with the ratios of the sums."""
    total: Row = {key: sum(row[key] or 0.0 for row in rows) for key in SUMMED}
    if any(row["ideal_time"] is None and row["pq"] for row in rows):
        total["ideal_time"] = None  # a line without PRU: no performance, as for one line
    return {**total, **ratios(conn, total)}


def waterfall(total: Row) -> list[Row]:
    """The plant's loss waterfall from the summed elements (see the module docstring)."""
    pbt, apt, ideal = total["pbt"], total["apt"], total["ideal_time"] or 0.0
    productive = ideal * total["gq"] / total["pq"] if total["pq"] else 0.0
    steps = [("planned_busy_time", "total", pbt), ("availability_loss", "loss", pbt - apt),
             ("actual_production_time", "total", apt), ("performance_loss", "loss", apt - ideal),
             ("net_production_time", "total", ideal), ("quality_loss", "loss", ideal - productive),
             ("fully_productive_time", "total", productive)]  # fmt: skip
    return [{"step": i, "name": n, "kind": k, "seconds": s} for i, (n, k, s) in enumerate(steps, start=1)]


def pareto(parts: list[list[Row]]) -> list[Row]:
    """The lines' downtime Paretos merged by reason: seconds and stops summed, shares of the plant's."""
    merged: dict[str, Row] = {}
    for rows in parts:
        for row in rows:
            into = merged.setdefault(row["reason_code"], {**row, "seconds": 0.0, "events": 0})
            into["seconds"] += row["seconds"]
            into["events"] += row["events"]
    total = sum(row["seconds"] for row in merged.values())
    out = sorted(merged.values(), key=lambda row: (-row["seconds"], row["reason_code"]))
    return [{**row, "share": row["seconds"] / total if total else None} for row in out]


def _line_section(conn: psycopg.Connection, line: Row, period: ReportPeriod) -> Row:
    """One line's figures in its window: KPI row, Pareto, orders, quality, alarms, andon, energy."""
    total = kpi.period_kpi(conn, line["id"], period.start, period.end)
    parent = line["parent_id"] or ""
    return {
        "line_id": line["id"], "line_name": line["name"] or line["id"], "start": period.start, "end": period.end,
        "kpi": total, "implausible": kpi.explain(total),
        "pareto": kpi.downtime_pareto(conn, line["id"], period.start, period.end),
        "production": content.production(conn, period),
        "quality": content.quality(conn, period, total),
        "alarms": content.alarms(conn, period, parent.removeprefix("_area.") if parent.startswith("_area.") else None),
        "andon": content.andon(conn, period),
        "energy": energy_split(conn, line["id"], period.start, period.end),
    }  # fmt: skip


def _quality(sections: list[Row], total: Row) -> Row:
    parts = [s["quality"] for s in sections]
    pq, sq, rq = total["pq"], total["sq"], total["rq"]
    return {
        "inspections_count": sum(q["inspections_count"] for q in parts),
        "inspections_failed": sum(q["inspections_failed"] for q in parts),
        "out_of_limit": sum(q["out_of_limit"] for q in parts),
        "nonconformances": [{**n, "line_id": s["line_id"]} for s in sections for n in s["quality"]["nonconformances"]],
        "scrap": sq, "rework": rq, "scrap_ratio": total["scrap_ratio"],
        "first_pass_yield": (pq - sq - rq) / pq if pq else None,
    }  # fmt: skip


def _alarms(conn: psycopg.Connection, period: ReportPeriod, sections: list[Row]) -> Row:
    """The lines' alarms (each in its window, with its area's) and the plant's alarms without a line
    or area over the plant window, summarised as one line's are."""
    seen: dict[Any, Row] = {}
    for section in sections:
        for alarm in section["alarms"]["alarms"]:
            seen[alarm["id"]] = alarm
    for alarm in alarm_store.history(conn, period.start, period.end, limit=2000):
        if alarm["line"] is None and alarm["area"] is None and alarm["id"] not in seen:
            raised = alarm["raised_at"]
            seen[alarm["id"]] = {**alarm, "ack_seconds": content.seconds_between(raised, alarm["acknowledged_at"]),
                                 "close_seconds": content.seconds_between(raised, alarm["closed_at"])}  # fmt: skip
    return content.alarm_summary(sorted(seen.values(), key=lambda a: a["raised_at"]))


def _energy(conn: psycopg.Connection, period: ReportPeriod, sections: list[Row], total: Row,
            utilities: list[Row]) -> Row:
    by_element: dict[str, Row] = {}
    for section in sections:
        for element, part in section["energy"]["by_element"].items():
            into = by_element.setdefault(element, {"energy": 0.0, "seconds": 0.0})
            into["energy"] += part["energy"]
            into["seconds"] += part["seconds"]
    meters = [{"line_id": u["id"], "line_name": u["name"] or u["id"],
               "energy": kpi.period_kpi(conn, u["id"], period.start, period.end)["energy"] or 0.0}
              for u in utilities]  # fmt: skip
    lines = total["energy"]
    utility = sum(m["energy"] for m in meters)
    idle = sum(s["energy"]["not_producing"] for s in sections)
    plant = lines + utility
    gq, pq = total["gq"], total["pq"]
    return {
        "energy": plant, "lines_energy": lines, "utilities_energy": utility, "utilities": meters,
        "energy_per_good_unit": plant / gq if gq else None, "energy_per_unit": plant / pq if pq else None,
        "lines_energy_per_good_unit": lines / gq if gq else None,
        "idle": idle, "idle_share": idle / lines if lines else None, "by_element": by_element,
    }  # fmt: skip


def build_plant_report(conn: psycopg.Connection, period: ReportPeriod, now: datetime | None = None,
                       progress: Progress | None = None) -> Row:
    """Everything a plant report shows for ``period``, as numbers (``progress(section)`` after each)."""
    step = progress or (lambda _section: None)
    lines, utilities = plant_lines(conn)
    windows = line_periods(conn, period, lines)
    sections = [_line_section(conn, line, mine) for line, mine in windows if mine is not None]
    step("lines")
    total = sum_rows(conn, [s["kpi"] for s in sections])
    site = first(conn, "SELECT name FROM equipment WHERE id = %s", (SITE_ID,))
    report: Row = {
        "plant": True, "period": period, "line_name": (site or {}).get("name") or PLANT,
        "generated_at": now or datetime.now(UTC), "lines": sections,
        "without_shift": [line["id"] for line, mine in windows if mine is None],
        "oee": total, "waterfall": waterfall(total),
        "implausible": [f"{s['line_id']}: {reason}" for s in sections for reason in s["implausible"]],
    }  # fmt: skip
    step("oee")
    report["production"] = {
        "orders": [{**o, "line_id": s["line_id"]} for s in sections for o in s["production"]["orders"]],
        "products": [{**p, "line_id": s["line_id"]} for s in sections for p in s["production"]["products"]],
    }  # fmt: skip
    step("production")
    report["pareto"] = pareto([s["pareto"] for s in sections])
    step("downtime")
    report["quality"] = _quality(sections, total)
    step("quality")
    report["alarms"] = _alarms(conn, period, sections)
    step("alarms")
    calls = sorted((c for s in sections for c in s["andon"]["calls"]), key=lambda c: (c["raised_at"], c["id"]))
    report["andon"] = {"calls": calls, "by_kind": totals_by_kind(calls)}
    step("andon")
    report["energy"] = _energy(conn, period, sections, total, utilities)
    step("energy")
    report["sign_off"] = records.sign_off(conn, period.key)
    return report

