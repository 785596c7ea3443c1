"""The manager pages' period picker: day, week, month or a custom range of plant-local
dates, kept in the URL so a view can be bookmarked and sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mes.errors import InvalidInput

PERIODS = ("day", "week", "month", "custom")
MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    period: str
    first: date  # plant-local, inclusive
    last: date  # plant-local, inclusive
    start: datetime
    end: datetime


def _date(text: str | None, field: str, default: date) -> date:
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"not a date (YYYY-MM-DD): {text!r}", field=field) from exc


def choose(period: str, day: str | None, start: str | None, end: str | None, timezone: str,
           now: datetime) -> Period:  # fmt: skip
    """The window of ``period`` around ``day`` (default: today at the plant), or ``start``..``end``."""
    if period not in PERIODS:
        raise InvalidInput(f"period is one of {', '.join(PERIODS)}", field="period")
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    anchor = _date(day, "day", today)
    if period == "day":
        first = last = anchor
    elif period == "week":
        first = anchor - timedelta(days=anchor.weekday())
        last = first + timedelta(days=6)
    elif period == "month":
        first = anchor.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        first, last = _date(start, "start", today), _date(end, "end", today)
        if last < first:
            raise InvalidInput("the end date is before the start date", field="end")
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput(f"at most {MAX_DAYS} days", field="end")
    lo = datetime.combine(first, time(0), tz)
    hi = min(datetime.combine(last + timedelta(days=1), time(0), tz), max(now, lo + timedelta(seconds=1)))
    return Period(period, first, last, lo, hi)
