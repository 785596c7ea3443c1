"""The period a report covers: a shift instance of the line's calendar, or a plant-local day,
ISO week (Monday first) or month. Boundaries are local midnights, so a DST day is 23 or 25 h."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from mes.errors import InvalidInput, NotFound
from mes.production import shifts
from mes.production.equipment import get_unit
from mes.production.kpi import next_period

KINDS = ("shift", "day", "week", "month")


@dataclass(frozen=True)
class ReportPeriod:
    """One report's window: ``key`` names it uniquely (kind, line, local label)."""

    kind: str
    line_id: str
    start: datetime
    end: datetime
    label: str  # 2026-03-04 early | 2026-03-04 | 2026-W10 | 2026-03
    timezone: str
    shift_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.line_id}:{self.label}"


def _first_day(kind: str, day: date) -> date:
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    return day


def calendar_period(line_id: str, kind: str, day: date, timezone: str) -> ReportPeriod:
    """The local day, ISO week or month holding ``day``."""
    tz = ZoneInfo(timezone)
    first = _first_day(kind, day)
    start = datetime.combine(first, time(), tz).astimezone(UTC)
    end = datetime.combine(next_period(first, kind), time(), tz).astimezone(UTC)
    label = {"day": first.isoformat(), "week": f"{first:%G-W%V}", "month": f"{first:%Y-%m}"}[kind]
    return ReportPeriod(kind, line_id, start, end, label, timezone)


def shift_period(line_id: str, shift: dict, timezone: str) -> ReportPeriod:
    """A shift instance row (``shifts.list_shifts``) as a report period."""
    label = f"{shift['local_date'].isoformat()} {shift['name']}"
    return ReportPeriod("shift", line_id, shift["start"], shift["end"], label, timezone, shift["name"])


def report_period(conn: psycopg.Connection, line_id: str, kind: str, day: date | None = None,
                  shift_name: str | None = None, now: datetime | None = None) -> ReportPeriod:
    """The period a user asks for. Without ``day``: the last one closed by ``now`` (the last
    ended shift, yesterday, last week, last month). A shift on ``day``: the one named
    ``shift_name``, else the day's last shift that has ended."""
    if kind not in KINDS:
        raise InvalidInput(f"report kind is one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    unit = get_unit(conn, line_id)
    line = unit["line_id"] or unit["id"]
    now = now or datetime.now(UTC)
    timezone = unit["timezone"]
    today = now.astimezone(ZoneInfo(timezone)).date()
    if kind != "shift":
        if day is None:
            current = calendar_period(line, kind, today, timezone)
            day = (current.start.astimezone(ZoneInfo(timezone)) - timedelta(days=1)).date()
        return calendar_period(line, kind, day, timezone)
    return _shift(conn, line, day, shift_name, now, timezone)


def _shift(conn: psycopg.Connection, line: str, day: date | None, name: str | None, now: datetime,
           timezone: str) -> ReportPeriod:
    around = now if day is None else datetime.combine(day, time(12), ZoneInfo(timezone)).astimezone(UTC)
    found = shifts.list_shifts(conn, line, around - timedelta(days=2), around + timedelta(days=2))
    if day is not None:
        found = [s for s in found if s["local_date"] == day]
    if name is not None:
        named = [s for s in found if s["name"] == name]
        if not named:
            names = sorted({s["name"] for s in found})
            raise NotFound(f"no shift {name!r} on {day or 'the last days'} (shifts: {', '.join(names) or 'none'})",
                           field="shift")
        return shift_period(line, named[-1], timezone)
    ended = [s for s in found if s["end"] <= now]
    if not ended:
        raise NotFound(f"no shift of {line} has ended {'on ' + str(day) if day else 'yet'}", field="date")
    return shift_period(line, ended[-1], timezone)


def closed_periods(conn: psycopg.Connection, line_id: str, kind: str, since: datetime,
                   until: datetime) -> list[ReportPeriod]:
    """Every period of ``kind`` that ends in (since, until]: what a schedule generates."""
    unit = get_unit(conn, line_id)
    line, timezone = unit["line_id"] or unit["id"], unit["timezone"]
    if kind == "shift":
        return [shift_period(line, s, timezone) for s in shifts.list_shifts(conn, line, since, until)
                if since < s["end"] <= until]  # fmt: skip
    out: list[ReportPeriod] = []
    day = since.astimezone(ZoneInfo(timezone)).date() - timedelta(days=31)
    while True:
        period = calendar_period(line, kind, day, timezone)
        if period.end > until:
            return out
        if period.end > since:
            out.append(period)
        day = next_period(_first_day(kind, day), kind)
