"""Languages of the pages: Babel catalogs for zh-CN and English, the locale of a request,
and numbers, times and durations written the way the plant reads them.

The catalogs are ``mes/web/locale/<locale>/LC_MESSAGES/messages.po`` plus one file per domain
beside it (``alarms.po``, ``reports.po``, ...: a domain's strings live in its own file, so work on
different domains never edits the same catalog); they are merged and compiled in
memory when first used (Babel reads the ``.po`` and writes the ``.mo`` into a buffer), so
the repository holds no generated ``.mo`` files and an edited catalog needs no build step:
restart the server. ``pybabel extract -F mes/web/babel.cfg`` refreshes the template.
"""

from __future__ import annotations

import functools
import gettext
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

LOCALE_DIR = Path(__file__).parent / "locale"
LOCALES = ("zh_CN", "en")  # the first is the plants' language and the default
DEFAULT_LOCALE = "zh_CN"
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def catalog_paths(locale: str) -> list[Path]:
    """``messages.po`` first, then the domains' own files in name order."""
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    return [folder / "messages.po", *sorted(p for p in folder.glob("*.po") if p.name != "messages.po")]


@functools.cache
def catalog(locale: str) -> Catalog:
    """All catalog files of ``locale`` merged; a message in two files keeps the first one's
    translation (``tests/mes/web/test_languages.py`` fails when two files disagree)."""
    merged: Catalog | None = None
    for path in catalog_paths(locale):
        with path.open("rb") as po:
            part = read_po(po, locale=locale)
        if merged is None:
            merged = part
            continue
        for message in part:
            if message.id and message.id not in merged:
                merged[message.id] = message
    assert merged is not None
    return merged


@functools.cache
def translations(locale: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``locale`` (one of :data:`LOCALES`)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog(locale), use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(choice: str | None, accept_language: str | None) -> str:
    """The page language: an explicit choice (``?lang=``, the cookie, the user's setting) when it
    is one of ours, else the browser's most wanted language we have (matched by language, so
    zh-TW and zh-HK read zh-CN rather than English), else zh-CN."""
    for tag in ([choice] if choice else []) + _wanted(accept_language):
        language = tag.replace("-", "_").split("_")[0].lower()
        for locale in LOCALES:
            if locale.split("_")[0].lower() == language:
                return locale
    return DEFAULT_LOCALE


def _wanted(accept_language: str | None) -> list[str]:
    """Accept-Language tags, most wanted first (q=0 means not wanted)."""
    wanted = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*" and weight > 0:
            wanted.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(wanted)]


class Formats:
    """Numbers, times and durations for one locale and one plant time zone."""

    def __init__(self, locale: str, timezone: str) -> None:
        self.locale = locale
        self.tz = ZoneInfo(timezone)
        self._ = translations(locale).gettext

    def duration(self, seconds: float | None) -> str:
        """``1 h 05 min`` / ``1小时05分``; under a minute in seconds; never negative."""
        if seconds is None:
            return "–"
        whole = max(round(seconds), 0)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return self._("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
        if minutes:
            return self._("%(minutes)d min") % {"minutes": minutes}
        return self._("%(seconds)d s") % {"seconds": secs}

    def time(self, moment: datetime | None) -> str:
        """Plant-local 24 h clock time."""
        return "–" if moment is None else format_datetime(moment, "HH:mm", tzinfo=self.tz, locale=self.locale)

    def time_s(self, moment: datetime | None) -> str:
        return "–" if moment is None else format_datetime(moment, "HH:mm:ss", tzinfo=self.tz, locale=self.locale)

    def datetime(self, moment: datetime | None) -> str:
        """Plant-local date and 24 h time, the date in the locale's order."""
        if moment is None:
            return "–"
        day = format_datetime(moment, "yyyy-MM-dd" if self.locale == "en" else "yyyy年M月d日", tzinfo=self.tz,
                              locale=self.locale)
        return f"{day} {self.time(moment)}"

    def percent(self, ratio: float | None) -> str:
        return "–" if ratio is None else format_percent(ratio, "#,##0.0%", locale=self.locale)

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.locale)
