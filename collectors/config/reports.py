"""The ``reports:`` section of a plant config: which reports ``linebrain run`` makes after each
period closes, and whom it mails them to. The report domain itself is ``mes.reports``::

    reports:
      grace_minutes: 30                 # late data gets this long after the period closes
      schedules:
        - {kind: shift, format: pdf, language: zh-CN, mail_to: [supervisor]}
        - {kind: day, format: xlsx, language: en, lines: [line1], mail_to: [manager]}
        - {kind: shift, plant: true, mail_to: [manager]}   # one report of the whole plant
      recipients:                       # role -> addresses
        supervisor: [shift-lead@plant.example]
        manager: [plant-manager@plant.example]
      smtp: {host: mail.plant.example, port: 587, starttls: true, sender: linebrain@plant.example}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from collectors.config.alarms import Smtp
from collectors.config.base import Identifier, Strict

if TYPE_CHECKING:
    from collectors.config.models import Plant

Loc = tuple[str | int, ...]


class ReportSchedule(Strict):
    """One report made for every closed period of ``kind`` on each of ``lines`` (empty: every line), or
    with ``plant`` one report of the whole plant per period."""

    kind: Literal["shift", "day", "week", "month"]
    format: Literal["pdf", "xlsx"] = "pdf"
    language: Literal["zh-CN", "en"] = "zh-CN"
    lines: list[Identifier] = Field(default_factory=list)
    plant: bool = Field(default=False, description="one report of the whole plant (every line) instead of one per line")
    mail_to: list[str] = Field(default_factory=list, description="roles whose recipients get it")


class ReportSettings(Strict):
    schedules: list[ReportSchedule] = Field(default_factory=list)
    grace_minutes: float = Field(default=30.0, ge=0, le=7 * 1440,
                                 description="minutes after a period closes before its report is made (late data)")
    catch_up_days: float = Field(default=2.0, ge=0, le=62,
                                 description="how far back a starting run makes reports it missed")
    recipients: dict[str, list[str]] = Field(default_factory=dict, description="role -> e-mail addresses")
    mail_retry_minutes: float = Field(default=5.0, gt=0, le=1440,
                                      description="minutes before a failed mail is tried again")
    mail_attempts: int = Field(default=5, ge=1, le=100,
                               description="tries before a report's mail is shown as failed")
    smtp: Smtp | None = Field(default=None, description="default: alarms.dispatch.smtp")


def report_checks(plant: Plant) -> Iterator[tuple[Loc, str]]:
    """Cross references of the reports section: lines exist, mailed roles have recipients."""
    lines = {line.id for line in plant.lines()}
    settings: ReportSettings = plant.reports
    for index, schedule in enumerate(settings.schedules):
        if schedule.plant and schedule.lines:
            yield ("reports", "schedules", index, "lines"), "a plant report covers every line: drop lines or plant"
        for position, line in enumerate(schedule.lines):
            if line not in lines:
                yield ("reports", "schedules", index, "lines", position), f"unknown line {line!r}"
        for position, role in enumerate(schedule.mail_to):
            if not settings.recipients.get(role):
                yield ("reports", "schedules", index, "mail_to", position), \
                    f"no recipients for role {role!r} (add reports.recipients.{role})"
