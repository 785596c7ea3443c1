"""The energy baseline of a line (ISO 50006 EnB): a straight line E = a + b·P fitted by least
squares on the shifts of a chosen period, E the shift's kWh and P its produced units (PQ). The
intercept ``a`` is the base load per shift (what the line uses when it makes nothing), the
slope ``b`` the kWh per unit. A shift's deviation is measured − predicted: positive means it
used more than its production explains."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import psycopg

from mes.db import first
from mes.energy.usage import energy_by
from mes.errors import InvalidInput, NotFound
from mes.production.equipment import get_unit

COLUMNS = "id, line_id, fitted_from, fitted_to, intercept, slope, r2, points, fitted_by, fitted_at"


def _shifts(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return [row for row in energy_by(conn, line_id, start, end, "shift") if row["group_key"]]


def fit_baseline(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime, by: str) -> dict[str, Any]:
    """Fit and keep the line's baseline on the shifts of [start, end) (at least two, with
    different production)."""
    unit = get_unit(conn, line_id)
    shifts = _shifts(conn, unit["id"], start, end)
    produced = [row["pq_total"] for row in shifts]
    used = [row["energy"] for row in shifts]
    if len(shifts) < 2 or len(set(produced)) < 2:
        raise InvalidInput(f"a baseline needs at least two shifts with different production between {start:%Y-%m-%d} "
                           f"and {end:%Y-%m-%d} ({len(shifts)} found)", field="from")  # fmt: skip
    slope, intercept = statistics.linear_regression(produced, used)
    mean = statistics.fmean(used)
    total = sum((e - mean) ** 2 for e in used)
    residual = sum((e - (intercept + slope * p)) ** 2 for p, e in zip(produced, used, strict=True))
    r2 = 1 - residual / total if total else None
    row = first(conn, f"INSERT INTO energy_baselines (line_id, fitted_from, fitted_to, intercept, slope, r2, points, "
                      f"fitted_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}",
                (unit["id"], start, end, intercept, slope, r2, len(shifts), by))  # fmt: skip
    assert row is not None
    return row


def latest_baseline(conn: psycopg.Connection, line_id: str) -> dict[str, Any] | None:
    """The line's most recently fitted baseline, if any."""
    return first(conn, f"SELECT {COLUMNS} FROM energy_baselines WHERE line_id = %s ORDER BY fitted_at DESC, id DESC "
                       "LIMIT 1", (line_id,))  # fmt: skip


def deviations(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each shift of [start, end) with its kWh, the baseline's prediction for its production and
    the deviation (kWh and share of the prediction); NotFound when no baseline was fitted."""
    baseline = latest_baseline(conn, line_id)
    if baseline is None:
        raise NotFound(f"no energy baseline for {line_id}: fit one first", field="baseline")
    out = []
    for row in _shifts(conn, line_id, start, end):
        predicted = baseline["intercept"] + baseline["slope"] * row["pq_total"]
        deviation = row["energy"] - predicted
        out.append({"shift": row["group_label"], "start": row["first_time"], "energy": row["energy"],
                    "produced": row["pq_total"], "predicted": predicted, "deviation": deviation,
                    "deviation_share": deviation / predicted if predicted else None,
                    "baseline_id": baseline["id"]})  # fmt: skip
    return out
