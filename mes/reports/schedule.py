"""The report schedule ``linebrain run`` keeps: after each period closes and its late data has
had ``reports.grace_minutes``, make the configured report, store it, and mail it to the
recipients of the configured roles.

Exactly once: a scheduled report is stored under a unique key (period, format, language) by
``INSERT ... ON CONFLICT DO NOTHING`` and only the insert that wins mails it, so neither a
restart nor a second ``run`` process makes or mails one twice. A starting run catches up on
the periods that closed in the last ``reports.catch_up_days``.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from collectors.config.models import Plant
from collectors.config.reports import ReportSchedule
from mes.errors import MesError
from mes.jobs import BackgroundJob, periodic_job
from mes.reports import mail, store
from mes.reports.generate import MEDIA, file_name, locale_of, render
from mes.reports.pdf import title
from mes.reports.periods import ReportPeriod, closed_periods
from mes.reports.plant import closed_plant_periods

log = logging.getLogger("linebrain.reports")
SCHEDULE_EVERY_S = 30.0
SCHEDULER = "schedule"


@dataclass
class ScheduleReport:
    """What one round made (period keys) and what went wrong (mail failures included)."""

    made: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def due(conn: psycopg.Connection, plant: Plant, schedule: ReportSchedule, now: datetime) -> list[ReportPeriod]:
    """Periods of ``schedule`` closed (grace included) by ``now`` whose report is not stored yet."""
    settings = plant.reports
    until = now - timedelta(minutes=settings.grace_minutes)
    since = until - timedelta(days=settings.catch_up_days)
    if schedule.plant:
        return [period for period in closed_plant_periods(conn, schedule.kind, since, until)
                if not store.is_stored(conn, period, schedule.format, schedule.language)]  # fmt: skip
    out: list[ReportPeriod] = []
    for line in schedule.lines or [line.id for line in plant.lines()]:
        out += [period for period in closed_periods(conn, line, schedule.kind, since, until)
                if not store.is_stored(conn, period, schedule.format, schedule.language)]  # fmt: skip
    return out


def make(conn: psycopg.Connection, plant: Plant, schedule: ReportSchedule, period: ReportPeriod, now: datetime,
         report: ScheduleReport) -> None:
    """Make and store one scheduled report with its mail queued (nothing when another process stored it first)."""
    data = render(conn, period, schedule.format, schedule.language, now=now)
    stored = store.save(conn, period, schedule.format, schedule.language, data, by=SCHEDULER, scheduled=True,
                        mail_to=mail.recipients(plant, schedule.mail_to), mail_at=now)  # fmt: skip
    if stored is not None:
        report.made.append(period.key)


def send_due_mail(conn: psycopg.Connection, plant: Plant, now: datetime, report: ScheduleReport) -> None:
    """Send every report mail that is due; a failure is retried after ``reports.mail_retry_minutes``
    until ``reports.mail_attempts`` tries, then the report shows it as not mailed (like alarm notices)."""
    settings = plant.reports
    retry = timedelta(minutes=settings.mail_retry_minutes)
    for stored in store.claim_due_mail(conn, now, lease=retry):
        period = ReportPeriod(stored["kind"], stored["line_id"], stored["period_start"], stored["period_end"],
                              stored["label"], plant.site.timezone)  # fmt: skip
        name = file_name(period, stored["format"], stored["language"])
        subject = f"{title(period.kind, locale_of(stored['language']))} {name.split('-', 1)[0]} {period.label}"
        error = None
        try:
            mail.send_report(mail.smtp_of(plant), stored["mailed_to"], subject, f"{subject}\n\n{name}", name,
                             bytes(stored["content"]), MEDIA[stored["format"]])  # fmt: skip
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        status = store.settle_mail(conn, stored, error, now, retry, settings.mail_attempts)
        if error is not None:
            report.errors.append(f"mailing {stored['period_key']} to {', '.join(stored['mailed_to'])} "
                                 f"(try {stored['mail_attempts'] + 1} of {settings.mail_attempts}, {status}): {error}")


def run_schedule(conn: psycopg.Connection, plant: Plant, now: datetime | None = None) -> ScheduleReport:
    """One round: every due report of every schedule. One failing report never stops the others."""
    now = now or datetime.now(UTC)
    report = ScheduleReport()
    for schedule in plant.reports.schedules:
        try:
            periods = due(conn, plant, schedule, now)
        except MesError as exc:
            report.errors.append(f"{schedule.kind} reports: {exc}")
            continue
        for period in periods:
            try:
                make(conn, plant, schedule, period, now, report)
            except MesError as exc:
                report.errors.append(f"{period.key}: {exc}")
    send_due_mail(conn, plant, now, report)
    return report


def report_job(plant: Plant, database_url: str, every_s: float = SCHEDULE_EVERY_S,
               clock: Callable[[], datetime] | None = None) -> BackgroundJob:
    """The schedule as a ``linebrain run`` job (``clock``: the simulator's, in tests and the demo)."""
    return periodic_job(database_url, every_s, "reports", log, when=lambda: clock() if clock else None,
                        step=lambda conn, now: run_schedule(conn, plant, now))  # fmt: skip


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The report schedule, when the config has one (on the plant clock, :mod:`mes.clock`)."""
    from mes.clock import job_interval, plant_clock

    if not plant.reports.schedules:
        return []
    return [report_job(plant, database_url, every_s=job_interval(SCHEDULE_EVERY_S), clock=plant_clock())]
