"""ISO 22400-2 KPIs, read from the SQL functions so every consumer gets the same numbers.

``mes_kpi(unit, from, to, by)`` returns, per group (the whole period, each shift,
order or product), the time elements (POT, PDT, PBT, AUBT, ADOT, ADET, AUST, APT,
AUPT, in seconds), the quantities (PQ, GQ, SQ, RQ), the effective PRU and the KPIs
computed from them, plus ``minor_stop_loss`` saying whether minor stops were
counted as a performance loss (inside APT) or an availability loss (in ADET).

Every row also says whether it can be taken at face value: ``plausible`` and
``implausible_reasons`` (codes, worded by :func:`explain`). Time without state data
is its own element (``no_data_time``), outside PBT. :func:`calendar_kpis` groups by
local day, week or month of the plant.

A line's whole past hours come from the hourly KPI cache (``grafana.kpi_hours``, filled
by ``linebrain run``) and the rest from the live timeline, with the same figures;
``live=True`` computes everything from the timeline (``mes_kpi_live``), for checking.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from mes.db import rows
from mes.errors import InvalidInput
from mes.production.equipment import get_unit

GROUPINGS = ("period", "shift", "order", "product")
CALENDAR_GROUPINGS = ("day", "week", "month")

# How quantities are read (ISO 22400-2): said next to every KPI answer.
QUALITY_CONVENTION = "ISO 22400-2, reworked units are not good: PQ = GQ + SQ + RQ"

# implausible_reasons codes (mes_kpi_implausible in mes/sql/0020_kpi_truth.sql) in words.
REASONS = {
    "effectiveness_above_1": "effectiveness above 100% (PRU x PQ > APT: wrong PRU or counts)",
    "quality_above_1": "more good units than produced (GQ > PQ)",
    "negative_quantity": "a quantity is negative (adjustments or counter resets)",
    "units_without_pot": "units counted outside planned operation time (no shift)",
    "units_without_apt": "units counted with no production time (APT = 0)",
    "units_in_no_data": "units counted while the state was unknown (not in PQ)",
    "data_quality_events": "raw data was rejected or doubted (data-quality events)",
    "far_over_plan": "more than 150% of the planned quantity is good",
}

TIME_ELEMENTS = ("pot", "pdt", "pbt", "aubt", "adot", "adet", "aust", "apt", "aupt")
QUANTITIES = ("pq", "gq", "sq", "rq")
RATIOS = (
    "availability", "effectiveness", "quality_ratio", "oee", "nee", "technical_efficiency", "setup_rate",
    "allocation_efficiency", "utilisation_efficiency", "scrap_ratio", "rework_ratio",
)  # fmt: skip


def _check(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> None:
    get_unit(conn, unit_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("times need a time zone (e.g. 2026-03-01T06:00:00+01:00)", field="from")
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")


Row = dict[str, Any]


def kpis(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime, by: str = "period", *,
         live: bool = False) -> list[Row]:
    """KPI rows with their time elements and quantities; one row for ``by='period'``."""
    if by not in GROUPINGS:
        raise InvalidInput(f"group by one of {', '.join(GROUPINGS)}", field="by")
    _check(conn, unit_id, start, end)
    function = "mes_kpi_live" if live else "mes_kpi"
    return rows(conn, f"SELECT * FROM {function}(%s, %s, %s, %s)", (unit_id, start, end, by))


def period_kpi(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime, *,
               live: bool = False) -> dict[str, Any]:
    """The KPI row of the whole period."""
    rows = kpis(conn, unit_id, start, end, live=live)
    return rows[0]


def explain(row: dict[str, Any]) -> list[str]:
    """The reasons a KPI (or order) row is not plausible, in words; empty when it is."""
    reasons = [REASONS.get(code, code) for code in row.get("implausible_reasons") or []]
    if "data_quality_events" in (row.get("implausible_reasons") or []) and row.get("data_quality_events"):
        reasons[-1] = f"{reasons[-1]}: {row['data_quality_events']}"
    return reasons


def calendar_periods(start: datetime, end: datetime, by: str, timezone: str) -> list[tuple[str, datetime, datetime]]:
    """(label, from, to) of each local day, ISO week (from Monday) or month the window
    touches, cut to the window. Local midnights, so a DST day is 23 or 25 hours."""
    if by not in CALENDAR_GROUPINGS:
        raise InvalidInput(f"group by one of {', '.join(CALENDAR_GROUPINGS)}", field="by")
    tz = ZoneInfo(timezone)
    day = start.astimezone(tz).date()
    if by == "week":
        day -= timedelta(days=day.weekday())
    elif by == "month":
        day = day.replace(day=1)
    out: list[tuple[str, datetime, datetime]] = []
    while True:
        following = next_period(day, by)
        lo = datetime.combine(day, time(), tz).astimezone(UTC)
        hi = datetime.combine(following, time(), tz).astimezone(UTC)
        if lo >= end:
            return out
        label = {"day": day.isoformat(), "week": f"{day:%G-W%V}", "month": f"{day:%Y-%m}"}[by]
        out.append((label, max(lo, start), min(hi, end)))
        day = following


def next_period(day: date, by: str) -> date:
    """The first day of the local day, ISO week or month after the one starting on ``day``."""
    if by == "day":
        return day + timedelta(days=1)
    if by == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def calendar_kpis(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime, by: str, *,
                  live: bool = False) -> list[Row]:
    """One KPI row per local day, week or month of the plant (``group_label`` names it)."""
    _check(conn, unit_id, start, end)
    timezone = get_unit(conn, unit_id)["timezone"]
    out: list[dict[str, Any]] = []
    for label, lo, hi in calendar_periods(start, end, by, timezone):
        row = period_kpi(conn, unit_id, lo, hi, live=live)
        out.append({**row, "group_by": by, "group_key": label, "group_label": label})
    return out


def downtime_pareto(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Lost time by reason, largest first, with each reason's share."""
    _check(conn, unit_id, start, end)
    return rows(conn, "SELECT * FROM mes_downtime_pareto(%s, %s, %s)", (unit_id, start, end))


def oee_waterfall(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """PBT -> availability loss -> APT -> performance loss -> net -> quality loss -> fully productive."""
    _check(conn, unit_id, start, end)
    return rows(conn, "SELECT * FROM mes_oee_waterfall(%s, %s, %s)", (unit_id, start, end))
