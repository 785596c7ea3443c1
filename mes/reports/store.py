"""Stored reports: generated files kept in ``stored_reports`` (listed and downloaded from the
pages and the API), and sign-offs. A scheduled report is stored under a unique key (period,
format, language), so the schedule makes each one exactly once, across restarts too."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from mes.db import first, rows
from mes.errors import InvalidInput, NotFound
from mes.production.equipment import SITE_ID
from mes.reports.periods import ReportPeriod

PLANT = SITE_ID  # the line_id of a plant report (mes.reports.plant)

LISTED = ("id, period_key, kind, line_id, period_start, period_end, label, format, language, scheduled, "
          "created_at, created_by, mailed_at, mailed_to, mail_error, mail_status, mail_attempts, mail_next_attempt_at, "
          "octet_length(content) AS bytes")  # fmt: skip


def only_line_or_plant(conn: psycopg.Connection) -> str | None:
    """The plant's line when it has exactly one, None (the whole plant) when it has several: the
    CLI's default ``--line``."""
    lines = [row["id"] for row in rows(conn, "SELECT id FROM equipment WHERE level = 'line' AND active ORDER BY id")]
    if not lines:
        raise InvalidInput("no lines in the database (load the plant config first)", field="line")
    return lines[0] if len(lines) == 1 else None


def save(conn: psycopg.Connection, period: ReportPeriod, fmt: str, language: str, content: bytes, by: str,
         scheduled: bool = False, mail_to: list[str] | None = None, mail_at: datetime | None = None,
         ) -> dict[str, Any] | None:  # fmt: skip
    """Keep a report file, with its mail to ``mail_to`` queued (due ``mail_at``) in the same row. A
    scheduled one is kept once per period, format and language: None when it already was (the
    caller made it twice, e.g. two ``run`` processes)."""
    return first(
        conn,
        f"""
        INSERT INTO stored_reports (period_key, kind, line_id, period_start, period_end, label, format, language,
                                    content, scheduled, created_by, mailed_to, mail_status, mail_next_attempt_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (period_key, format, language) WHERE scheduled DO NOTHING
        RETURNING {LISTED}
        """,
        (period.key, period.kind, period.line_id, period.start, period.end, period.label, fmt, language, content,
         scheduled, by, mail_to or [], "pending" if mail_to else None, mail_at if mail_to else None),
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


def claim_due_mail(conn: psycopg.Connection, now: datetime, lease: timedelta) -> list[dict[str, Any]]:
    """Reports whose mail is due, with their content, leased until ``now + lease`` so that a second
    ``run`` does not send them too and a run killed while sending leaves them to the next one."""
    with conn.transaction():
        return rows(conn, f"UPDATE stored_reports SET mail_next_attempt_at = %(lease)s WHERE id IN ("
                          "SELECT id FROM stored_reports WHERE mail_status = 'pending' AND mail_next_attempt_at <= "
                          "%(now)s ORDER BY mail_next_attempt_at, id FOR UPDATE SKIP LOCKED) "
                          f"RETURNING {LISTED}, content", {"now": now, "lease": now + lease})  # fmt: skip


def settle_mail(conn: psycopg.Connection, report: dict[str, Any], error: str | None, now: datetime,
                retry_after: timedelta, attempts: int) -> str:
    """Record a try of a report's mail: sent, or failed and tried again after ``retry_after`` until the
    ``attempts``-th failure, after which it is ``failed``. Returns the new status."""
    tried = report["mail_attempts"] + 1
    status = "sent" if error is None else "failed" if tried >= attempts else "pending"
    conn.execute("UPDATE stored_reports SET mail_status = %s, mail_attempts = %s, mail_error = %s, "
                 "mailed_at = CASE WHEN %s = 'sent' THEN %s END, mail_next_attempt_at = CASE WHEN %s = 'pending' "
                 "THEN %s END WHERE id = %s",
                 (status, tried, error and error[:500], status, now, status, now + retry_after,
                  report["id"]))  # fmt: skip
    return status
