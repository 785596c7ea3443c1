"""Shift, day, week and month reports from recorded facts (issue 19): content through the
KPI functions the API uses (:mod:`content`), PDF (:mod:`pdf`) and XLSX (:mod:`xlsx`), stored
reports (:mod:`store`) and the schedule that makes and mails them (:mod:`schedule`)."""

from mes.reports.content import build_report
from mes.reports.generate import FORMATS, LANGUAGES, render
from mes.reports.periods import KINDS, ReportPeriod, report_period

__all__ = ["FORMATS", "KINDS", "LANGUAGES", "ReportPeriod", "build_report", "render", "report_period"]
