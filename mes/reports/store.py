"""Stored reports: generated files kept in ``stored_reports`` (listed and downloaded from the
pages and the API), and sign-offs. A scheduled report is stored under a unique key (period,
format, language), so the schedule makes each one exactly once, across restarts too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import first, rows
from mes.errors import InvalidInput, NotFound
from mes.production.equipment import SITE_ID
from mes.reports.periods import ReportPeriod

PLANT = SITE_ID  # the line_id of a plant report (mes.reports.plant)

LISTED = ("id, period_key, kind, line_id, period_start, period_end, label, format, language, scheduled, "
          "created_at, created_by, mailed_at, mailed_to, mail_error, octet_length(content) AS bytes")  # fmt: skip


def only_line_or_plant(conn: psycopg.Connection) -> str | None:
    """The plant's line when it has exactly one, None (the whole plant) when it has several: the
    CLI's default ``--line``."""
    lines = [row["id"] for row in rows(conn, "SELECT id FROM equipment WHERE level = 'line' AND active ORDER BY id")]
    if not lines:
        raise InvalidInput("no lines in the database (load the plant config first)", field="line")
    return lines[0] if len(lines) == 1 else None


def save(conn: psycopg.Connection, period: ReportPeriod, fmt: str, language: str, content: bytes, by: str,
         scheduled: bool = False) -> dict[str, Any] | None:
    """Keep a report file. A scheduled one is kept once per period, format and language:
    None when it already was (the caller made it twice, e.g. two ``run`` processes)."""
    return first(
        conn,
        f"""
        INSERT INTO stored_reports (period_key, kind, line_id, period_start, period_end, label, format, language,
                                    content, scheduled, created_by)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (period_key, format, language) WHERE scheduled DO NOTHING
        RETURNING {LISTED}
        """,
        (period.key, period.kind, period.line_id, period.start, period.end, period.label, fmt, language, content,
         scheduled, by),
    )  # fmt: skip


def is_stored(conn: psycopg.Connection, period: ReportPeriod, fmt: str, language: str) -> bool:
    """Whether the schedule already made this report."""
    return first(conn, "SELECT 1 AS found FROM stored_reports WHERE period_key = %s AND format = %s AND language = %s "
                       "AND scheduled", (period.key, fmt, language)) is not None  # fmt: skip


def list_reports(conn: psycopg.Connection, line_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Stored reports, newest period first (without their content)."""
    return rows(conn, f"SELECT {LISTED} FROM stored_reports WHERE (%(line)s::text IS NULL OR line_id = %(line)s) "
                      "ORDER BY period_start DESC, id DESC LIMIT %(limit)s", {"line": line_id, "limit": limit})


def get_report(conn: psycopg.Connection, report_id: int) -> dict[str, Any]:
    """One stored report with its content."""
    row = first(conn, f"SELECT {LISTED}, content FROM stored_reports WHERE id = %s", (report_id,))
    if row is None:
        raise NotFound(f"no stored report {report_id}", field="report_id")
    return row


def mark_mailed(conn: psycopg.Connection, report_id: int, to: list[str], error: str | None,
                at: datetime | None = None) -> None:
    """Record where a stored report was mailed (or why it was not)."""
    conn.execute("UPDATE stored_reports SET mailed_at = CASE WHEN %s::text IS NULL THEN coalesce(%s, now()) END, "
                 "mailed_to = %s, mail_error = %s WHERE id = %s", (error, at, to, error, report_id))  # fmt: skip
