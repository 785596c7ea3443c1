"""What the API and the pages ask of reports, one call each: make (and keep) a report of a
period, and sign a period off. Thin faces call these; the work is in the modules they use."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg

from mes.reports import store
from mes.reports.content import sign_off
from mes.reports.generate import file_name, render
from mes.reports.periods import report_period


def generate(conn: psycopg.Connection, line_id: str, kind: str, day: date | None, shift: str | None, fmt: str,
             language: str, by: str, now: datetime | None = None) -> dict[str, Any]:
    """Make the report of the asked period, keep it in ``stored_reports`` and return its listing."""
    period = report_period(conn, line_id, kind, day, shift, now)
    stored = store.save(conn, period, fmt, language, render(conn, period, fmt, language, now=now), by=by)
    assert stored is not None  # only scheduled reports are kept once
    return {**stored, "file_name": file_name(period, fmt, language)}


def sign_period_off(conn: psycopg.Connection, line_id: str, kind: str, day: date | None, shift: str | None,
                    by: str, note: str = "", now: datetime | None = None) -> dict[str, Any]:
    """Sign the asked period off (once); reports made afterwards show who and when."""
    period = report_period(conn, line_id, kind, day, shift, now)
    return {"period_key": period.key, "label": period.label, **sign_off(conn, period, by, note)}
