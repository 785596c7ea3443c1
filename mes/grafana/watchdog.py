"""Cancels reader queries that outlive their role's ``statement_timeout``.

Why: a role can always ``SET statement_timeout = 0`` in its own session
(PostgreSQL has no privilege for user-level settings), so the timeout set on
Grafana's role is a default, not a limit. ``linebrain run`` therefore checks every
few seconds for active queries of roles that carry a ``statement_timeout`` role
setting and cancels those running past it (plus a grace). Runs as the
application role, which ``ensure_role`` made a member of the reader.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from collectors.config.models import Plant
from mes.jobs import BackgroundJob, periodic_job

log = logging.getLogger("linebrain.grafana")
CHECK_EVERY_S = 5.0
GRACE_S = 5.0

# Active queries of roles with a statement_timeout role setting (the most specific one: this
# database's over all databases') that run longer than it. A bare number is milliseconds.
_OVERDUE = """
SELECT a.pid, a.usename, round(extract(epoch FROM now() - a.query_start))::int AS running_s
FROM pg_stat_activity a
CROSS JOIN LATERAL (
    SELECT CASE WHEN v ~ '^[0-9]+$' THEN v::bigint * interval '1 ms' ELSE v::interval END AS limit_
    FROM pg_db_role_setting s, unnest(s.setconfig) c,
         LATERAL (SELECT substr(c, length('statement_timeout=') + 1) AS v) value
    WHERE s.setrole = a.usesysid AND s.setdatabase IN (0, a.datid) AND c LIKE 'statement_timeout=%%'
    ORDER BY s.setdatabase DESC LIMIT 1
) r
WHERE a.state = 'active' AND a.pid <> pg_backend_pid() AND r.limit_ > interval '0'
  AND a.query_start < now() - r.limit_ - %s * interval '1 s'
"""


@dataclass
class WatchdogReport:
    cancelled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def cancel_overdue_queries(conn: psycopg.Connection, grace_s: float = GRACE_S) -> WatchdogReport:
    """Cancel every reader query past its role's timeout; report the pids cancelled."""
    report = WatchdogReport()
    for pid, role, running_s in conn.execute(_OVERDUE, (grace_s,)).fetchall():
        row = conn.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone()
        if row and row[0]:
            log.warning("cancelled a query of %s running %d s, past its statement_timeout (pid %d)",
                        role, running_s, pid)  # fmt: skip
            report.cancelled.append(pid)
        else:
            report.errors.append(f"could not cancel the overdue query of {role} (pid {pid})")
    return report


def watchdog_job(database_url: str, every_s: float = CHECK_EVERY_S) -> BackgroundJob:
    """A ``linebrain run`` job: :func:`cancel_overdue_queries` every ``every_s`` seconds."""
    return periodic_job(database_url, every_s, "reader watchdog", log, when=lambda: None,
                        step=lambda conn, _: cancel_overdue_queries(conn))  # fmt: skip


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The hook of ``mes.cli.collect.MES_JOB_MODULES``."""
    return [watchdog_job(database_url)]
