"""Inspection plans, due inspections (the line's to-do list) and inspection records.

A plan says what to check (a spec), on how many units, and when: every N
units, every T minutes of running, at order start or end, after a
changeover. :func:`schedule_due` turns plans into due inspections for the
orders that ran — idempotently, one row per trigger (``units:200``,
``minutes:3``, ``changeover:17`` …) — and flags those past their grace time as
overdue (a quality event, once). A record — entered by a person through the
API, or taken from the spec's tag — closes the due inspection; values outside
the spec open a nonconformance on the spot.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
from pydantic import Field, model_validator

from mes.bounds import MAGNITUDE, MAX_INT4, BigId, Count, Measurement, PositiveQuantity, SerialId
from mes.quality.db import one, rows
from mes.quality.errors import QualityError
from mes.quality.events import record_event
from mes.quality.models import AwareDatetime, QualityInput
from mes.quality.nonconformances import NonconformanceIn, create_nonconformance
from mes.quality.specs import get_spec, out_of_spec

Trigger = Literal["every_units", "every_minutes", "order_start", "order_end", "changeover"]
MAX_NEW_PER_ORDER = 500  # a plan misconfigured as "every 1 unit" must not flood the to-do list


class PlanIn(QualityInput):
    name: str = Field(min_length=1, max_length=200)
    spec_id: SerialId
    line_id: str | None = None
    sample_size: int = Field(default=1, ge=1, le=10_000)
    trigger: Trigger
    interval_value: PositiveQuantity | None = Field(default=None, description="units or minutes for every_* triggers")
    grace_minutes: float = Field(default=15, ge=0, le=100_000)
    automatic: bool = Field(default=False, description="take the result from the spec's bound tag when due")

    @model_validator(mode="after")
    def _interval_for_periodic(self) -> PlanIn:
        periodic = self.trigger in ("every_units", "every_minutes")
        if periodic and self.interval_value is None:
            raise ValueError(f"trigger {self.trigger} needs interval_value")
        if not periodic and self.interval_value is not None:
            raise ValueError(f"trigger {self.trigger} takes no interval_value")
        return self


class RecordIn(QualityInput):
    spec_id: SerialId
    plan_id: SerialId | None = None
    due_id: BigId | None = None
    work_order_id: BigId | None = None
    lot_code: str | None = None
    line_id: str | None = None
    time: AwareDatetime | None = None
    inspector: str = ""
    measurements: list[Measurement] = Field(default_factory=list, max_length=10_000)
    sample_size: int | None = Field(default=None, ge=1, le=MAX_INT4)
    nonconforming: Count = 0
    defects: dict[str, Count] = Field(default_factory=dict, description="defect code -> count")
    passed: bool | None = Field(default=None, description="given for attribute checks; computed for measured ones")
    note: str = ""

    @model_validator(mode="after")
    def _counts(self) -> RecordIn:
        if any(c <= 0 for c in self.defects.values()):
            raise ValueError("defect counts must be positive")
        if self.sample_size is not None and self.nonconforming > self.sample_size:
            raise ValueError("nonconforming exceeds sample_size")
        return self


def create_plan(conn: psycopg.Connection, plan: PlanIn) -> dict[str, Any]:
    spec = get_spec(conn, plan.spec_id)
    if plan.automatic and not spec["tag"]:
        raise QualityError(f"an automatic plan needs a spec with a bound tag; spec {spec['id']} has none")
    return one(
        conn,
        "INSERT INTO inspection_plans (name, spec_id, line_id, sample_size, trigger, interval_value, grace_minutes, "
        "automatic) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (plan.name, plan.spec_id, plan.line_id, plan.sample_size, plan.trigger, plan.interval_value,
         plan.grace_minutes, plan.automatic),
    )  # fmt: skip


def list_plans(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return rows(conn, "SELECT p.*, s.characteristic, s.product_id FROM inspection_plans p "
                      "JOIN quality_specs s ON s.id = p.spec_id WHERE p.active ORDER BY p.id")


# --------------------------------------------------------------------------- scheduling


def schedule_due(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Create the due inspections every active plan asks for up to ``now``; returns the new ones."""
    pairs = rows(
        conn,
        """
        SELECT p.*, o.id AS order_id, o.line_id AS order_line, o.status AS order_status
        FROM inspection_plans p
        JOIN quality_specs s ON s.id = p.spec_id
        JOIN work_orders o ON o.product_id = s.product_id AND (p.line_id IS NULL OR p.line_id = o.line_id)
                          AND (s.line_id IS NULL OR s.line_id = o.line_id)
        WHERE p.active AND o.status IN ('running', 'paused', 'completed')
          AND EXISTS (SELECT 1 FROM order_runs r WHERE r.order_id = o.id AND lower(r.period) <= %s)
        ORDER BY p.id, o.id
        """,
        (now,),
    )
    created: list[dict[str, Any]] = []
    for pair in pairs:
        runs = rows(conn, "SELECT lower(period) AS start, upper(period) AS stop FROM order_runs "
                          "WHERE order_id = %s AND lower(period) <= %s ORDER BY lower(period)", (pair["order_id"], now))
        for key, due_at in _triggers(conn, pair, runs, now)[:MAX_NEW_PER_ORDER]:
            found = rows(
                conn,
                "INSERT INTO inspections_due (plan_id, line_id, work_order_id, trigger_key, due_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (plan_id, work_order_id, trigger_key) DO NOTHING "
                "RETURNING *",
                (pair["id"], pair["order_line"], pair["order_id"], key, due_at),
            )
            created.extend(found)
    return created


def _triggers(conn, plan: dict, runs: list[dict], now: datetime) -> list[tuple[str, datetime]]:
    trigger = plan["trigger"]
    if trigger == "order_start":
        return [("order_start", runs[0]["start"])]
    if trigger == "order_end":
        return [("order_end", runs[-1]["stop"])] if plan["order_status"] == "completed" and runs[-1]["stop"] else []
    if trigger == "every_minutes":
        return _every_minutes(runs, plan["interval_value"], now)
    if trigger == "every_units":
        return _every_units(conn, plan["order_line"], runs, plan["interval_value"], now)
    return [
        (f"changeover:{row['id']}", row["stop"])
        for row in rows(
            conn,
            "SELECT s.id, upper(s.period) AS stop FROM state_intervals s JOIN order_runs r ON r.order_id = %s "
            "AND r.period @> upper(s.period) WHERE s.equipment_id = %s AND s.state = 'changeover' "
            "AND upper(s.period) <= %s ORDER BY upper(s.period)",
            (plan["order_id"], plan["order_line"], now),
        )
    ]


def _every_minutes(runs: list[dict], minutes: float, now: datetime) -> list[tuple[str, datetime]]:
    """Every ``minutes`` of running time (pauses do not count)."""
    step, elapsed = timedelta(minutes=minutes), timedelta(0)
    found: list[tuple[str, datetime]] = []
    next_due = step
    for run in runs:
        stop = min(run["stop"] or now, now)
        length = stop - run["start"]
        while next_due <= elapsed + length and len(found) < MAX_NEW_PER_ORDER:
            found.append((f"minutes:{len(found) + 1}", run["start"] + (next_due - elapsed)))
            next_due += step
        elapsed += length
    return found


def _every_units(conn, line_id: str, runs: list[dict], units: float, now: datetime) -> list[tuple[str, datetime]]:
    """When the order's produced count passes each multiple of ``units``."""
    total, threshold = 0.0, units
    found: list[tuple[str, datetime]] = []
    for run in runs:
        buckets = rows(
            conn,
            "SELECT cut_end, CASE WHEN total > 0 THEN total ELSE good + reject END AS units FROM count_buckets "
            "WHERE equipment_id = %s AND cut_end > %s AND cut_end <= %s ORDER BY cut_end",
            (line_id, run["start"], min(run["stop"] or now, now)),
        )
        for bucket in buckets:
            total += bucket["units"]
            while total >= threshold and len(found) < MAX_NEW_PER_ORDER:
                found.append((f"units:{threshold:g}", bucket["cut_end"]))
                threshold += units
    return found


def todo(conn: psycopg.Connection, line_id: str | None, now: datetime) -> list[dict[str, Any]]:
    """Open due inspections, oldest first, each with ``overdue``; overdue ones raise an event once."""
    due = rows(
        conn,
        """
        SELECT d.*, p.name AS plan, p.sample_size, p.grace_minutes, s.characteristic, s.id AS spec_id,
               o.number AS work_order, d.due_at + make_interval(secs => p.grace_minutes * 60) < %(now)s AS overdue
        FROM inspections_due d JOIN inspection_plans p ON p.id = d.plan_id JOIN quality_specs s ON s.id = p.spec_id
        LEFT JOIN work_orders o ON o.id = d.work_order_id
        WHERE d.status = 'open' AND (%(line)s::text IS NULL OR d.line_id = %(line)s) AND d.due_at <= %(now)s
        ORDER BY d.due_at, d.id
        """,
        {"now": now, "line": line_id},
    )
    for item in due:
        if item["overdue"]:
            record_event(conn, "inspection_overdue",
                         f"inspection '{item['plan']}' on {item['line_id']} due {item['due_at']:%Y-%m-%d %H:%M} "
                         f"is overdue", line_id=item["line_id"], work_order_id=item["work_order_id"],
                         source_id=item["id"])  # fmt: skip
    return due


def skip_due(conn: psycopg.Connection, due_id: int, by: str, why: str) -> dict[str, Any]:
    if not by or not why:
        raise QualityError("skipping an inspection needs who and why")
    found = rows(conn, "UPDATE inspections_due SET status = 'skipped', done_at = now() WHERE id = %s AND "
                       "status = 'open' RETURNING *", (due_id,))
    if not found:
        raise QualityError(f"due inspection {due_id} is not open")
    return found[0]


# --------------------------------------------------------------------------- records


def record_inspection(conn: psycopg.Connection, record: RecordIn, *, source: str = "manual") -> dict[str, Any]:
    """Store an inspection result; values out of spec (or nonconforming units) open a nonconformance."""
    spec = get_spec(conn, record.spec_id)
    if spec["kind"] == "measured" and not record.measurements:
        raise QualityError(f"spec {spec['id']} ({spec['characteristic']}) is measured: give measurements")
    out = [v for v in record.measurements if out_of_spec(spec, v)]
    sample_size = record.sample_size or max(len(record.measurements), 1)
    if len(record.measurements) > sample_size:
        raise QualityError(f"{len(record.measurements)} measurements for a sample of {sample_size}")
    nonconforming = max(record.nonconforming, len(out))
    if nonconforming > sample_size:
        raise QualityError("nonconforming exceeds sample_size")
    passed = record.passed if record.passed is not None else nonconforming == 0
    if record.passed is True and nonconforming:
        raise QualityError(f"{nonconforming} unit(s) out of spec: the inspection cannot pass")
    lot = None
    if record.lot_code:
        lot = one(conn, "SELECT * FROM lots WHERE code = %s", (record.lot_code,), what=f"lot {record.lot_code!r}")
    work_order_id = record.work_order_id or (lot["work_order_id"] if lot else None)
    line_id = record.line_id or (lot["line_id"] if lot else None)
    due = _due(conn, record.due_id)
    if due:
        work_order_id = work_order_id or due["work_order_id"]
        line_id = line_id or due["line_id"]
    if work_order_id and not line_id:
        line_id = one(conn, "SELECT line_id FROM work_orders WHERE id = %s", (work_order_id,),
                      what=f"work order {work_order_id}")["line_id"]
    with conn.transaction():
        saved = one(
            conn,
            """
            INSERT INTO inspection_records (spec_id, plan_id, due_id, work_order_id, lot_id, line_id, time, inspector,
                source, measurements, sample_size, nonconforming, passed, note)
            VALUES (%s, %s, %s, %s, %s, %s, coalesce(%s, now()), %s, %s, %s, %s, %s, %s, %s) RETURNING *
            """,
            (spec["id"], record.plan_id or (due["plan_id"] if due else None), record.due_id, work_order_id,
             lot["id"] if lot else None, line_id, record.time, record.inspector, source, record.measurements,
             sample_size, nonconforming, passed, record.note),
        )  # fmt: skip
        for code, count in record.defects.items():
            conn.execute("INSERT INTO inspection_defects (record_id, defect_code, count) VALUES (%s, %s, %s)",
                         (saved["id"], code, count))
        if due:
            conn.execute("UPDATE inspections_due SET status = 'done', done_at = %s WHERE id = %s",
                         (saved["time"], due["id"]))
        saved["nonconformance_id"] = None
        if nonconforming:
            worst = max(out, key=lambda v: abs(v - (spec["target"] if spec["target"] is not None else v)), default=None)
            detail = f", worst {worst:g} {spec['unit']}".rstrip() if worst is not None else ""
            nc = create_nonconformance(
                conn,
                NonconformanceIn(
                    description=f"{spec['characteristic']}: {nonconforming} of {sample_size} out of spec{detail}",
                    quantity=nonconforming, found_at="inspection", work_order_id=work_order_id,
                    lot_code=record.lot_code, line_id=line_id, spec_id=spec["id"],
                    defect_code=next(iter(record.defects), None) or "out_of_spec",
                    reported_by=record.inspector, time=saved["time"],
                ),
                source="inspection", source_id=saved["id"],
            )  # fmt: skip
            saved["nonconformance_id"] = nc["id"]
    saved["defects"] = record.defects
    return saved


def _due(conn, due_id: int | None) -> dict[str, Any] | None:
    if due_id is None:
        return None
    due = one(conn, "SELECT * FROM inspections_due WHERE id = %s", (due_id,), what=f"due inspection {due_id}")
    if due["status"] != "open":
        raise QualityError(f"due inspection {due_id} is already {due['status']}")
    return due


def record_from_tag(
    conn: psycopg.Connection, spec_id: int, at: datetime, sample_size: int = 1, *,
    work_order_id: int | None = None, due_id: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An automatic inspection: the last ``sample_size`` good samples of the spec's tag up to ``at``."""
    spec = get_spec(conn, spec_id)
    if not spec["tag"]:
        raise QualityError(f"spec {spec_id} has no bound tag")
    values = rows(
        conn,
        "SELECT x.value FROM samples x JOIN tags t ON t.id = x.tag_id WHERE t.name = %s AND x.time <= %s "
        "AND x.status < 1073741824 AND x.value IS NOT NULL ORDER BY x.time DESC LIMIT %s",
        (spec["tag"], at, sample_size),
    )
    if len(values) < sample_size:
        raise QualityError(f"tag {spec['tag']} has only {len(values)} good samples up to {at:%Y-%m-%d %H:%M:%S}")
    measurements = [r["value"] for r in reversed(values)]
    for value in measurements:  # a device can send what no person may type: it stays due, and is flagged overdue
        if not (math.isfinite(value) and abs(value) <= MAGNITUDE):
            raise QualityError(f"tag {spec['tag']}: {value!r} is not a measurement (finite, within ±{MAGNITUDE:g})")
    return record_inspection(
        conn,
        RecordIn(spec_id=spec_id, work_order_id=work_order_id, due_id=due_id, time=at, inspector="tag",
                 measurements=measurements),
        source="tag",
    )


def list_records(conn: psycopg.Connection, spec_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT r.*, coalesce((SELECT jsonb_object_agg(defect_code, count) FROM inspection_defects d "
        "WHERE d.record_id = r.id), '{}'::jsonb) AS defects FROM inspection_records r "
        "WHERE (%(s)s::int IS NULL OR r.spec_id = %(s)s) ORDER BY r.time DESC, r.id DESC LIMIT %(n)s",
        {"s": spec_id, "n": limit},
    )


def take_automatic(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Record every open due inspection of an automatic plan from its tag, at its due time."""
    taken = []
    for due in rows(
        conn,
        "SELECT d.id, d.due_at, d.work_order_id, p.spec_id, p.sample_size FROM inspections_due d "
        "JOIN inspection_plans p ON p.id = d.plan_id WHERE d.status = 'open' AND p.automatic AND d.due_at <= %s "
        "ORDER BY d.due_at, d.id",
        (now,),
    ):
        try:
            with conn.transaction():
                taken.append(record_from_tag(conn, due["spec_id"], due["due_at"], due["sample_size"],
                                             work_order_id=due["work_order_id"], due_id=due["id"]))
        except QualityError:
            continue  # no data yet: it stays on the to-do list and turns overdue if none comes
    return taken
