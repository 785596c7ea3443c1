"""ISO 22400-2 KPIs, read from the SQL functions so every consumer gets the same numbers.

``mes_kpi(unit, from, to, by)`` returns, per group (the whole period, each shift,
order or product), the time elements (POT, PDT, PBT, AUBT, ADOT, ADET, AUST, APT,
AUPT, in seconds), the quantities (PQ, GQ, SQ, RQ), the effective PRU and the KPIs
computed from them, plus ``minor_stop_loss`` saying whether minor stops were
counted as a performance loss (inside APT) or an availability loss (in ADET).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import rows
from mes.errors import InvalidInput
from mes.production.equipment import get_unit

GROUPINGS = ("period", "shift", "order", "product")

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


def kpis(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime,
         by: str = "period") -> list[dict[str, Any]]:
    """KPI rows with their time elements and quantities; one row for ``by='period'``."""
    if by not in GROUPINGS:
        raise InvalidInput(f"group by one of {', '.join(GROUPINGS)}", field="by")
    _check(conn, unit_id, start, end)
    return rows(conn, "SELECT * FROM mes_kpi(%s, %s, %s, %s)", (unit_id, start, end, by))


def period_kpi(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The KPI row of the whole period."""
    rows = kpis(conn, unit_id, start, end)
    return rows[0]


def downtime_pareto(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Lost time by reason, largest first, with each reason's share."""
    _check(conn, unit_id, start, end)
    return rows(conn, "SELECT * FROM mes_downtime_pareto(%s, %s, %s)", (unit_id, start, end))


def oee_waterfall(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """PBT -> availability loss -> APT -> performance loss -> net -> quality loss -> fully productive."""
    _check(conn, unit_id, start, end)
    return rows(conn, "SELECT * FROM mes_oee_waterfall(%s, %s, %s)", (unit_id, start, end))
