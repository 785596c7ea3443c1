"""The alarms page: active alarms to acknowledge, reset or shelve, the open andon calls, maintenance work
orders and the alarm figures of the last 24 h. Routes parse the form, check the CSRF token and the action,
call one domain function (its audit row in the same transaction) and go back to the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mes.alarms import andon, kpi, maintenance, store
from mes.api.deps import Conn, call
from mes.auth.deps import AuditedWrite, audited, read_access
from mes.production.equipment import list_equipment
from mes.web.render import render
from mes.web.routes import CSRF, Id, back, now

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
Acknowledge = Annotated[AuditedWrite, Depends(audited("alarms.acknowledge"))]
Shelve = Annotated[AuditedWrite, Depends(audited("alarms.shelve"))]
AndonCall = Annotated[AuditedWrite, Depends(audited("andon.call"))]
Orders = Annotated[AuditedWrite, Depends(audited("maintenance.orders"))]
Comment = Annotated[str, Form(max_length=1000)]
Required = Annotated[str, Form(min_length=1, max_length=1000)]


@router.get("/alarms", response_class=HTMLResponse)
def alarms_page(request: Request, conn: Conn) -> HTMLResponse:
    moment = now(request)
    figures = kpi.alarm_kpis(conn, moment - timedelta(days=1), moment)[-1]
    return render(request, "alarms.html", {
        "alarms": store.active_alarms(conn), "calls": andon.open_calls(conn),
        "orders": maintenance.orders(conn, open_only=True), "kpi": figures,
        "lines": [line["id"] for line in list_equipment(conn, "line")],
    })  # fmt: skip


@router.post("/alarms/{occurrence_id}/acknowledge", dependencies=CSRF)
def acknowledge(request: Request, occurrence_id: Id, conn: Conn, caller: Acknowledge,
                comment: Comment = "") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"alarm:{occurrence_id}", store.acknowledge, occurrence_id, caller.user.name,
         now(request), comment)  # fmt: skip
    return back("/alarms")


@router.post("/alarms/{occurrence_id}/reset", dependencies=CSRF)
def reset(request: Request, occurrence_id: Id, conn: Conn, caller: Acknowledge) -> RedirectResponse:
    call(caller.write, conn, f"alarm:{occurrence_id}", store.reset, occurrence_id, caller.user.name, now(request))
    return back("/alarms")


@router.post("/alarms/points/{point_id}/shelve", dependencies=CSRF)
def shelve(request: Request, point_id: Id, conn: Conn, caller: Shelve, comment: Required,
           minutes: Annotated[float, Form(gt=0, le=7 * 24 * 60)] = 60) -> RedirectResponse:  # fmt: skip
    at = now(request)
    call(caller.write, conn, f"alarm_point:{point_id}", store.shelve, point_id, caller.user.name, at,
         at + timedelta(minutes=minutes), comment)  # fmt: skip
    return back("/alarms")


@router.post("/andon/calls", dependencies=CSRF)
def raise_call(request: Request, conn: Conn, caller: AndonCall,
               line_id: Annotated[str, Form(min_length=1, max_length=200)],
               kind: Annotated[str, Form(pattern="^(material|maintenance|quality|process|custom)$")],
               label: Annotated[str, Form(max_length=200)] = "", note: Comment = "") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, lambda c: f"andon:{c['id']}", andon.raise_call, line_id, kind, caller.user.name,
         now(request), label, note)  # fmt: skip
    return back("/alarms")


@router.post("/andon/calls/{call_id}/acknowledge", dependencies=CSRF)
def acknowledge_call(request: Request, call_id: Id, conn: Conn, caller: AndonCall) -> RedirectResponse:
    call(caller.write, conn, f"andon:{call_id}", andon.acknowledge_call, call_id, caller.user.name, now(request))
    return back("/alarms")


@router.post("/andon/calls/{call_id}/resolve", dependencies=CSRF)
def resolve_call(request: Request, call_id: Id, conn: Conn, caller: AndonCall,
                 resolution: Required) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"andon:{call_id}", andon.resolve_call, call_id, caller.user.name, now(request),
         resolution)  # fmt: skip
    return back("/alarms")


@router.post("/maintenance/orders/{order_id}/close", dependencies=CSRF)
def close_order(request: Request, order_id: Id, conn: Conn, caller: Orders, repair: Required,
                failure: Annotated[bool, Form()] = False) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"maintenance_order:{order_id}", maintenance.close_order, order_id, caller.user.name,
         now(request), repair, None, failure)  # fmt: skip
    return back("/alarms")
