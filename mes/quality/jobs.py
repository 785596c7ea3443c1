"""One pass of every automatic quality check, for ``linebrain run`` (a background job), the CLI or a scheduler.

Order matters: excursions first (they may open nonconformances), then due
inspections are created and the automatic ones taken from their tags, then
overdue ones flagged, then frozen SPC charts judge their new points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from collectors.config.models import Plant
from mes.jobs import BackgroundJob, periodic_job
from mes.quality import inspections, process_checks, spc

log = logging.getLogger("linebrain.quality")


@dataclass
class CheckReport:
    excursions: int = 0
    due_created: int = 0
    taken_from_tags: int = 0
    overdue: int = 0
    spc_violations: int = 0
    errors: list[str] = field(default_factory=list)


def run_quality_checks(conn: psycopg.Connection, now: datetime) -> CheckReport:
    """Run every automatic check up to ``now`` (``conn`` in autocommit mode); one failing chart does not stop
    the others."""
    report = CheckReport()
    report.excursions = len(process_checks.run_process_checks(conn, now))
    report.due_created = len(inspections.schedule_due(conn, now))
    report.taken_from_tags = len(inspections.take_automatic(conn, now))
    report.overdue = sum(1 for item in inspections.todo(conn, None, now) if item["overdue"])
    for chart in spc.list_charts(conn):
        if chart["phase"] != "phase2":
            continue
        try:
            with conn.transaction():
                report.spc_violations += len(spc.evaluate(conn, chart["id"], now)["violations"])
        except Exception as exc:  # a chart whose data no longer fits its limits must not block the rest
            report.errors.append(f"SPC chart {chart['name']}: {exc}")
    return report


QUALITY_EVERY_S = 30.0


def quality_job(database_url: str, every_s: float = QUALITY_EVERY_S) -> BackgroundJob:
    """A job for ``linebrain run`` that runs :func:`run_quality_checks` every ``every_s`` seconds, in a worker
    thread so the collectors' event loop never waits on SQL, until ``stop`` is set."""
    return periodic_job(database_url, every_s, "quality checks", log,
                        when=lambda: datetime.now(UTC),
                        step=lambda conn, now: run_quality_checks(conn, now))


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The quality jobs ``linebrain run`` starts next to the collectors (see ``MES_JOB_MODULES``)."""
    return [quality_job(database_url)]
