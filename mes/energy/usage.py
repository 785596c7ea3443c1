"""Where a line's energy went: per time element (producing, stopped, setup, no order, planned
stop, no data, outside shifts) and per shift, order or product, read from the timeline and
the KPI rows the API serves, so energy and OEE answer for the same seconds.

Meters are the ``energy`` or ``energy_meter`` binding of a line or work cell: a kWh counter
derived like the production counters (:mod:`mes.production.counts`: resets, wraps at
``wraps_at``), its deltas stored per minute and per shift/order boundary in ``count_buckets``.
A delta belongs to the instant of its reading, so energy follows state changes to the
minute (the meter's reading interval)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from mes.db import rows
from mes.production import kpi

# Time elements in the order a report lists them, with the losses a plant acts on.
ELEMENTS = ("APT", "ADET", "AUST", "ADOT", "PDT", "NODATA", "OUTSIDE")
NOT_PRODUCING = ELEMENTS[1:]


def energy_split(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """kWh and seconds per time element, the total, and ``not_producing``: every kWh used outside
    APT (stopped, setup, without order, planned stops, no data, outside shifts)."""
    kpi.period_kpi(conn, unit_id, start, end)  # checks the unit and the window as the KPIs do
    found = {row["element"]: row for row in rows(conn, "SELECT * FROM mes_energy_split(%s, %s, %s)",
                                                 (unit_id, start, end))}  # fmt: skip
    by_element = {e: {"energy": found[e]["energy"] if e in found else 0.0,
                      "seconds": found[e]["seconds"] if e in found else 0.0} for e in ELEMENTS}  # fmt: skip
    total = sum(part["energy"] for part in by_element.values())
    idle = sum(by_element[e]["energy"] for e in NOT_PRODUCING)
    return {"by_element": by_element, "energy": total, "not_producing": idle,
            "not_producing_share": idle / total if total else None}  # fmt: skip


def energy_by(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime,
              by: str = "period") -> list[dict[str, Any]]:
    """kWh, PQ, GQ and kWh per unit and per good unit for the period or each shift, order or
    product: the KPI rows' own figures (``mes_kpi``), not a second calculation."""
    keys = ("group_by", "group_key", "group_label", "first_time", "last_time", "energy", "pq", "gq", "pq_total",
            "gq_total", "energy_per_unit", "energy_per_good_unit", "plausible")  # fmt: skip
    return [{key: row[key] for key in keys} for row in kpi.kpis(conn, unit_id, start, end, by)]
