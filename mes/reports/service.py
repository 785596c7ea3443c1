"""What the API and the pages ask of reports, one call each: make (and keep) a report of a
period, and sign a period off. Thin faces call these; the work is in the modules they use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg

from mes.reports import store
from mes.reports.content import sign_off
from mes.reports.generate import file_name, render
from mes.reports.periods import ReportPeriod, report_period
from mes.reports.plant import build_plant_report, plant_period


def generate(conn: psycopg.Connection, line_id: str | None, kind: str, day: date | None, shift: str | None, fmt: str,
             language: str, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Make the report of the asked period of a line (``line_id`` None: the whole plant), keep it in
    ``stored_reports`` and return its listing."""
    period = any_period(conn, line_id, kind, day, shift, now)
    stored = store.save(conn, period, fmt, language, render(conn, period, fmt, language, now=now), by=by)
    assert stored is not None  # only scheduled reports are kept once
    return {**stored, "file_name": file_name(period, fmt, language)}


def any_period(conn: psycopg.Connection, line_id: str | None, kind: str, day: date | None, shift: str | None,
               now: datetime | None = None) -> ReportPeriod:
    """The asked period of a line, or of the plant when ``line_id`` is None."""
    if line_id is None:
        return plant_period(conn, kind, day, shift, now)
    return report_period(conn, line_id, kind, day, shift, now)


def plant_summary(conn: psycopg.Connection, kind: str, day: date | None, shift: str | None,
                  now: datetime | None = None) -> dict[str, Any]:
    """The plant report's figures as JSON-able numbers: the summed KPIs, the waterfall, the Pareto,
    quality, alarm and andon totals, energy and every line's KPI row with its window."""
    period = plant_period(conn, kind, day, shift, now)
    whole = build_plant_report(conn, period, now)
    alarms = {k: v for k, v in whole["alarms"].items() if k != "alarms"}
    return {
        "period": {"key": period.key, "kind": period.kind, "label": period.label, "start": period.start,
                   "end": period.end, "timezone": period.timezone},
        "total": whole["oee"], "waterfall": whole["waterfall"], "pareto": whole["pareto"],
        "quality": whole["quality"], "alarms": alarms, "andon": {"by_kind": whole["andon"]["by_kind"]},
        "energy": whole["energy"], "without_shift": whole["without_shift"], "implausible": whole["implausible"],
        "lines": [{"line_id": s["line_id"], "start": s["start"], "end": s["end"], "kpi": s["kpi"]}
                  for s in whole["lines"]],
    }  # fmt: skip


def sign_period_off(conn: psycopg.Connection, line_id: str | None, kind: str, day: date | None, shift: str | None,
                    by: str, note: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Sign the asked period of a line (None: the plant) off (once); reports made afterwards show who and when."""
    period = any_period(conn, line_id, kind, day, shift, now)
    return {"period_key": period.key, "label": period.label, **sign_off(conn, period, by, note)}
