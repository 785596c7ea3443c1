"""One call from a period to a report file: content, then PDF or XLSX in a language."""

from __future__ import annotations

from datetime import datetime

import psycopg

from mes.errors import InvalidInput
from mes.reports.content import Progress, build_report
from mes.reports.pdf import report_pdf
from mes.reports.periods import ReportPeriod
from mes.reports.plant import build_plant_report, is_plant
from mes.reports.plant_xlsx import plant_xlsx
from mes.reports.xlsx import report_xlsx

FORMATS = ("pdf", "xlsx")
LANGUAGES = {"zh-CN": "zh_CN", "zh_CN": "zh_CN", "en": "en"}
MEDIA = {"pdf": "application/pdf", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def locale_of(language: str) -> str:
    """``zh-CN`` or ``en`` (as users write them) as a catalog locale."""
    if language not in LANGUAGES:
        raise InvalidInput(f"language is zh-CN or en, not {language!r}", field="lang")
    return LANGUAGES[language]


def render(conn: psycopg.Connection, period: ReportPeriod, fmt: str = "pdf", language: str = "zh-CN",
           now: datetime | None = None, progress: Progress | None = None) -> bytes:
    """The report of ``period`` as a PDF or XLSX file in ``language``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format is pdf or xlsx, not {fmt!r}", field="format")
    locale = locale_of(language)
    if is_plant(period):
        whole = build_plant_report(conn, period, now, progress)
        return report_pdf(whole, locale) if fmt == "pdf" else plant_xlsx(whole, locale)
    content = build_report(conn, period, now, progress)
    return report_pdf(content, locale) if fmt == "pdf" else report_xlsx(content, locale)


def file_name(period: ReportPeriod, fmt: str, language: str) -> str:
    """``line1-shift-2026-03-04-early-zh-CN.pdf`` (``plant-...`` for the plant): safe in a download header
    and on disk."""
    label = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in period.label)
    line = "plant" if is_plant(period) else "".join(ch if ch.isalnum() or ch in "-_." else "-"
                                                    for ch in period.line_id)
    return f"{line}-{period.kind}-{label}-{language}.{fmt}"
