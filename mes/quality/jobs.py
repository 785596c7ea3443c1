"""One pass of every automatic quality check, for a scheduler, the collector process or the CLI.

Order matters: excursions first (they may open nonconformances), then due
inspections are created and the automatic ones taken from their tags, then
overdue ones flagged, then frozen SPC charts judge their new points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from mes.quality import inspections, process_checks, spc


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
