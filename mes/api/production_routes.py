"""Lines and their live status, states, shifts, downtime, counts and KPIs, under ``/api``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from mes.api.auth import AuditedWrite, audited
from mes.api.deps import Conn, call, field_error
from mes.bounds import BigId
from mes.production import counts, downtime, kpi, products, shifts, status
from mes.production.equipment import get_unit, list_equipment

router = APIRouter(prefix="/api", tags=["production"])

MAX_WINDOW = timedelta(days=400)
UnitId = Annotated[str, Path(min_length=1, max_length=200, description="line or work cell id")]
EventId = Annotated[int, Path(ge=1, le=2**63 - 1)]
From = Annotated[AwareDatetime, Query(alias="from", description="start, ISO 8601 with offset")]
To = Annotated[AwareDatetime, Query(alias="to", description="end, ISO 8601 with offset")]


Calendar = Annotated[AuditedWrite, Depends(audited("calendar.edit"))]
Assign = Annotated[AuditedWrite, Depends(audited("downtime.assign"))]
EditStops = Annotated[AuditedWrite, Depends(audited("downtime.edit"))]
Adjust = Annotated[AuditedWrite, Depends(audited("counts.adjust"))]

EARLIEST, LATEST = datetime(1970, 1, 2, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC)


def _window(start: datetime, end: datetime) -> None:
    for name, value in (("from", start), ("to", end)):
        if not EARLIEST <= value <= LATEST:
            raise field_error(422, f"'{name}' must lie between 1970 and 2200", name, "query")
    if end <= start:
        raise field_error(422, "'to' must be after 'from'", "to", "query")
    if end - start > MAX_WINDOW:
        raise field_error(422, f"at most {MAX_WINDOW.days} days per request", "to", "query")


# --------------------------------------------------------------------------- plant model


@router.get("/equipment")
def equipment(conn: Conn, level: Literal["enterprise", "site", "area", "line", "work_cell"] | None = None) -> list:
    """The ISA-95 hierarchy: enterprise, site, areas, lines, work cells."""
    return list_equipment(conn, level)


@router.get("/products")
def product_list(conn: Conn) -> list:
    """Products with their ideal cycle time (s/unit) per line."""
    return products.list_products(conn)


@router.get("/lines")
def lines(conn: Conn) -> list:
    """Every line with its live status: state and since when, running order, current shift OEE."""
    return status.all_lines(conn)


@router.get("/lines/{line_id}")
def line(line_id: UnitId, conn: Conn) -> dict:
    """Live status of one line or work cell."""
    return call(status.line_status, conn, line_id)


@router.get("/lines/{line_id}/states")
def state_intervals(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """Machine state intervals (start, end, state, raw code) overlapping the window."""
    _window(start, end)
    call(get_unit, conn, line_id)
    rows = conn.execute(
        "SELECT lower(period), upper(period), state, raw_code, fault_code FROM state_intervals "
        "WHERE equipment_id = %s AND period && tstzrange(%s, %s) ORDER BY lower(period)",
        (line_id, start, end),
    ).fetchall()
    return [{"start": r[0], "end": r[1], "state": r[2], "raw_code": r[3], "fault_code": r[4]} for r in rows]


# --------------------------------------------------------------------------- shifts


@router.get("/lines/{line_id}/shifts")
def shift_list(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """Shift instances with their planned downtime."""
    _window(start, end)
    unit = call(get_unit, conn, line_id)
    return shifts.list_shifts(conn, unit["line_id"] or unit["id"], start, end)


class PlannedDowntimeIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    kind: Literal["maintenance", "meeting", "break", "cleaning", "other"] = "maintenance"
    note: str = Field(default="", max_length=500)


@router.post("/lines/{line_id}/planned-downtime", status_code=201)
def planned_downtime(line_id: UnitId, body: PlannedDowntimeIn, conn: Conn, caller: Calendar) -> dict:
    """Plan downtime (taken out of PBT)."""
    unit = call(get_unit, conn, line_id)
    line = unit["line_id"] or unit["id"]
    new_id = call(caller.write, conn, lambda new: f"line:{line}/planned-downtime:{new}", shifts.add_planned_downtime,
                  line, body.start, body.end, body.kind, body.note, caller.user.name,
                  after=lambda new: {"id": new, "line_id": line, **body.model_dump()})  # fmt: skip
    return {"id": new_id}


class ExtraShiftIn(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    start: AwareDatetime
    end: AwareDatetime


@router.post("/lines/{line_id}/extra-shifts", status_code=201)
def extra_shift(line_id: UnitId, body: ExtraShiftIn, conn: Conn, caller: Calendar) -> dict:
    """A per-line calendar override: an extra shift (it may not overlap another)."""
    unit = call(get_unit, conn, line_id)
    line = unit["line_id"] or unit["id"]
    new_id = call(caller.write, conn, lambda new: f"line:{line}/extra-shift:{new}", shifts.add_extra_shift, line,
                  body.name, body.start, body.end, unit["timezone"],
                  after=lambda new: {"id": new, "line_id": line, **body.model_dump()})  # fmt: skip
    return {"id": new_id, "by": caller.user.name}


class HolidayIn(BaseModel):
    day: date
    name: str = Field(default="", max_length=200)
    line_id: str | None = Field(default=None, max_length=200, description="one line; all lines when omitted")


@router.post("/holidays", status_code=201)
def holiday(body: HolidayIn, conn: Conn, caller: Calendar) -> dict:
    """No shifts on that (plant-local) day, for one line or all; its pattern shifts are removed."""
    if body.line_id is not None:
        call(get_unit, conn, body.line_id)
    call(caller.write, conn, f"holiday:{body.day}" + (f"/line:{body.line_id}" if body.line_id else ""),
         shifts.add_holiday, body.day, body.name, caller.user.name, body.line_id, after=lambda _: body.model_dump())
    return {"day": body.day, "line_id": body.line_id}


# --------------------------------------------------------------------------- downtime


@router.get("/lines/{line_id}/reasons")
def reasons(line_id: UnitId, conn: Conn) -> list:
    """The line's downtime reason tree: categories and reasons with their time element and loss."""
    unit = call(get_unit, conn, line_id)
    return downtime.reason_tree(conn, unit["line_id"] or unit["id"])


@router.get("/lines/{line_id}/downtime")
def downtime_events(line_id: UnitId, start: From, end: To, conn: Conn,
                    kind: Literal["stop", "no_data"] | None = None) -> list:  # fmt: skip
    """Stops and no-data periods with their current reason."""
    _window(start, end)
    call(get_unit, conn, line_id)
    return downtime.list_events(conn, line_id, start, end, kind)


@router.get("/downtime/{event_id}")
def downtime_event(event_id: EventId, conn: Conn) -> dict:
    """One event with the history of its reason assignments."""
    event = call(downtime.get_event, conn, event_id)
    return {**event, "history": downtime.event_history(conn, event_id)}


class AssignIn(BaseModel):
    reason_code: str = Field(min_length=1, max_length=100)
    why: str = Field(default="", max_length=500)


@router.post("/downtime/{event_id}/reason")
def assign(event_id: EventId, body: AssignIn, conn: Conn, caller: Assign) -> dict:
    """Assign or reclassify the reason (a new assignment; earlier ones stay as history)."""
    return call(caller.write, conn, f"downtime:{event_id}", downtime.assign_reason, event_id, body.reason_code,
                caller.user.name, body.why, before=lambda: downtime.get_event(conn, event_id))  # fmt: skip


class SplitIn(BaseModel):
    at: AwareDatetime
    why: str = Field(min_length=1, max_length=500)


@router.post("/downtime/{event_id}/split")
def split(event_id: EventId, body: SplitIn, conn: Conn, caller: EditStops) -> list:
    """Split a closed stop in two at ``at``."""
    return call(caller.write, conn, f"downtime:{event_id}", downtime.split_event, event_id, body.at, caller.user.name,
                body.why, before=lambda: downtime.get_event(conn, event_id))  # fmt: skip


class MergeIn(BaseModel):
    event_ids: list[BigId] = Field(min_length=2, max_length=100)
    why: str = Field(min_length=1, max_length=500)
    reason_code: str | None = Field(default=None, max_length=100)


@router.post("/downtime/merge")
def merge(body: MergeIn, conn: Conn, caller: EditStops) -> dict:
    """Merge closed stops of one line into one."""
    return call(caller.write, conn, lambda merged: f"downtime:{merged.get('id', '')}", downtime.merge_events,
                body.event_ids, caller.user.name, body.why, body.reason_code,
                before=lambda: [downtime.get_event(conn, event_id) for event_id in body.event_ids])  # fmt: skip


# --------------------------------------------------------------------------- counts


class AdjustmentIn(BaseModel):
    kind: Literal["good", "reject", "total", "rework"]
    at: AwareDatetime
    quantity: float = Field(ge=-1e9, le=1e9)
    why: str = Field(min_length=1, max_length=500)


@router.post("/lines/{line_id}/count-adjustments", status_code=201)
def adjust(line_id: UnitId, body: AdjustmentIn, conn: Conn, caller: Adjust) -> dict:
    """A manual count correction (signed), kept with who, when and why."""
    call(get_unit, conn, line_id)
    new_id = call(caller.write, conn, lambda new: f"line:{line_id}/count-adjustment:{new}", counts.adjust_count,
                  line_id, body.kind, body.at, body.quantity, body.why, caller.user.name,
                  after=lambda new: {"id": new, "line_id": line_id, **body.model_dump()})  # fmt: skip
    return {"id": new_id}


# --------------------------------------------------------------------------- KPIs


@router.get("/lines/{line_id}/kpi")
def kpis(line_id: UnitId, start: From, end: To, conn: Conn,
         by: Literal["period", "shift", "order", "product"] = "period") -> list:  # fmt: skip
    """ISO 22400-2 KPIs with the time elements (s) and quantities they come from; one row per group."""
    _window(start, end)
    return call(kpi.kpis, conn, line_id, start, end, by, where="query")


@router.get("/lines/{line_id}/pareto")
def pareto(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """Downtime Pareto: lost time by reason, largest first."""
    _window(start, end)
    return call(kpi.downtime_pareto, conn, line_id, start, end, where="query")


@router.get("/lines/{line_id}/waterfall")
def waterfall(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """OEE loss waterfall from PBT to fully productive time (seconds)."""
    _window(start, end)
    return call(kpi.oee_waterfall, conn, line_id, start, end, where="query")


__all__ = ["HTTPException", "router"]
