"""Time options of MES commands: ISO 8601, or shortcuts, read in the plant's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

# The window options of report verbs (kpi, pareto, downtime list).
From = Annotated[str, typer.Option("--from", help="Start: ISO time (plant zone if no offset), today, yesterday, -8h.")]
To = Annotated[str | None, typer.Option("--to", help="End: ISO time, now (default: now; the end of that day after "
                                                     "--from yesterday).", show_default=False)]


def parse_time(text: str, timezone: str, option: str) -> datetime:
    """``2026-03-02T06:00`` (plant time), ``2026-03-02T06:00+01:00``, ``now``, ``-8h``, ``-30m``, ``-2d``,
    ``today``, ``yesterday`` (local midnight)."""
    now = datetime.now(UTC)
    text = text.strip()
    tz = ZoneInfo(timezone)
    if text == "now":
        return now
    if text in ("today", "yesterday"):
        local = now.astimezone(tz).date() - timedelta(days=1 if text == "yesterday" else 0)
        return datetime.combine(local, time(), tz).astimezone(UTC)
    if text.startswith("-") and text[-1:] in "mhd" and text[1:-1].isdigit():
        unit = {"m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return now - timedelta(**{unit: int(text[1:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a time (2026-03-02T06:00, now, today, yesterday, -8h)",
                                 param_hint=option) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def parse_window(start: str, end: str | None, timezone: str) -> tuple[datetime, datetime]:
    """``--from``/``--to`` as a window. Without ``--to`` it ends now, or at the end of that
    local day when ``--from`` is ``yesterday``."""
    t_from = parse_time(start, timezone, "--from")
    if end is not None:
        return t_from, parse_time(end, timezone, "--to")
    if start.strip() == "yesterday":
        return t_from, parse_time("today", timezone, "--to")
    return t_from, parse_time("now", timezone, "--to")
