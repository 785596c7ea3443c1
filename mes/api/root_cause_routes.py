"""Line root cause under ``/api``: lost time by causing machine and fault, the attributed
stretches, machine KPIs beside the line's, and the reason a stop's cause suggests."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from mes.api.deps import Conn, call
from mes.api.production_routes import EventId, From, To, UnitId, _window
from mes.production import downtime, root_cause

router = APIRouter(prefix="/api", tags=["root cause"])


@router.get("/lines/{line_id}/root-cause")
def pareto(line_id: UnitId, start: From, end: To, conn: Conn, by: Literal["machine", "fault"] = "machine") -> list:
    """The line's lost time by the machine that caused it (``by=fault``: machine and fault code),
    largest first; ``machine`` null is time whose cause the data cannot tell."""
    _window(start, end)
    return call(root_cause.pareto, conn, line_id, start, end, by, where="query")


@router.get("/lines/{line_id}/root-cause/intervals")
def attributions(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """Each stretch the constraint did not run, with its cause, rule and (unknown) reason."""
    _window(start, end)
    return call(root_cause.attributions, conn, line_id, start, end, where="query")


@router.get("/lines/{line_id}/machines/kpi")
def machine_kpis(line_id: UnitId, start: From, end: To, conn: Conn) -> list:
    """The line's KPIs, then each machine's (upstream first), by the same ISO 22400-2 formulas."""
    _window(start, end)
    return call(root_cause.machine_kpis, conn, line_id, start, end, where="query")


@router.get("/downtime/{event_id}/root-cause")
def suggestion(event_id: EventId, conn: Conn) -> dict:
    """The machine and fault that took most of a line stop, and the reason that fits them
    (null fields when nothing is attributed): the supervisor's pre-filled reason."""
    call(downtime.get_event, conn, event_id)
    found = root_cause.suggested_reason(conn, event_id)
    return found or {"machine": None, "fault_code": None, "reason_code": None, "seconds": 0.0}
