"""Time options of MES commands: ISO 8601, or shortcuts, read in the plant's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import typer


def parse_time(text: str, timezone: str, option: str) -> datetime:
    """``2026-03-02T06:00`` (plant time), ``2026-03-02T06:00+01:00``, ``now``, ``-8h``, ``-30m``, ``-2d``,
    ``today`` (local midnight)."""
    now = datetime.now(UTC)
    text = text.strip()
    tz = ZoneInfo(timezone)
    if text == "now":
        return now
    if text == "today":
        local = now.astimezone(tz)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    if text.startswith("-") and text[-1:] in "mhd" and text[1:-1].isdigit():
        unit = {"m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return now - timedelta(**{unit: int(text[1:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a time (2026-03-02T06:00, now, today, -8h)",
                                 param_hint=option) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
