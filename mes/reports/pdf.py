"""Reports as PDF: the report template rendered in the chosen language and printed by
WeasyPrint. WeasyPrint lays text out with Pango and HarfBuzz and embeds subsets of the
system's OpenType fonts, so Debian's ``fonts-noto-cjk`` (CFF-based OTF/TTC, which
ReportLab's TrueType support cannot read) prints Chinese that ``pdftotext`` reads back.
The charts are SVG drawn by the template from :mod:`mes.web.charts` geometry."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from mes.web import charts
from mes.web.i18n import HTML_LANG, Formats, translations

TEMPLATES = Path(__file__).parent / "templates"
PAGE_TEMPLATES = Path(__file__).parent.parent / "web" / "templates"  # macros.html: the pages' labels


def N_(message: str) -> str:
    """Marks a string for the catalogs; it is translated where it is shown."""
    return message


# Where energy went, by ISO 22400 time element (mes.energy.usage.ELEMENTS).
ELEMENT_LABELS = {"APT": N_("Producing"), "ADET": N_("Stopped (delays and failures)"), "AUST": N_("Setup"),
                  "ADOT": N_("Available without an order"), "PDT": N_("Planned downtime"), "NODATA": N_("No data"),
                  "OUTSIDE": N_("Outside shifts")}  # fmt: skip

# Andon call kinds (mes.alarms.andon.KINDS); a custom call shows its own label.
ANDON_KINDS = {"material": N_("Material"), "maintenance": N_("Maintenance"), "quality": N_("Quality"),
               "process": N_("Process"), "custom": N_("Custom")}  # fmt: skip

TITLES = {"shift": N_("Shift report"), "day": N_("Daily report"), "week": N_("Weekly report"),
          "month": N_("Monthly report")}  # fmt: skip


@functools.cache
def environment(locale: str) -> Environment:
    env = Environment(loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(PAGE_TEMPLATES)]),
                      autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"], trim_blocks=True,
                      lstrip_blocks=True)  # fmt: skip
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def title(kind: str, locale: str) -> str:
    return translations(locale).gettext(TITLES[kind])


def element_label(element: str, locale: str) -> str:
    return translations(locale).gettext(ELEMENT_LABELS.get(element, element))


def andon_kind(kind: str, label: str, locale: str) -> str:
    """A call's kind in the language, or its label when it has one (a custom call)."""
    return label or translations(locale).gettext(ANDON_KINDS.get(kind, kind))


def report_html(content: dict[str, Any], locale: str) -> str:
    """The report as one HTML document (what the PDF prints)."""
    period = content["period"]
    fmt = Formats(locale, period.timezone)
    template = "plant_report.html" if content.get("plant") else "report.html"
    return environment(locale).get_template(template).render(
        r=content, fmt=fmt, locale=locale, html_lang=HTML_LANG[locale], title=title(period.kind, locale),
        waterfall=charts.waterfall(content["waterfall"]), pareto=charts.pareto(content["pareto"], limit=8),
        energy_label=lambda element: element_label(element, locale),
        andon_kind=lambda kind, label="": andon_kind(kind, label, locale),
    )


def report_pdf(content: dict[str, Any], locale: str) -> bytes:
    """The report as PDF bytes."""
    import weasyprint  # imported on use: it loads Pango, which only report writers need

    pdf = weasyprint.HTML(string=report_html(content, locale)).write_pdf()
    assert pdf is not None
    return bytes(pdf)
