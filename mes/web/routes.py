"""Page routes: parse the form or query, check the role, call one domain function, render.

Writes answer with a redirect back to the page (post/redirect/get) carrying a message key the
page shows translated; a refused action is a 403 page, a domain error (through the API's
``call``) a 404/409/422 page naming the field.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError

from mes.api.deps import Conn, call
from mes.auth import users
from mes.auth.deps import AuditedWrite, audited, csrf_protect, read_access, require
from mes.auth.models import User
from mes.auth.permissions import ROLES
from mes.production import counts, downtime, handover, orders, shifts
from mes.quality import inspections
from mes.web import charts, exports, periods, views
from mes.web.render import formats, fragment, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
LineId = Annotated[str, Path(min_length=1, max_length=200)]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
FEED_EVERY_S = 0.25  # the live feeds look this often (cheaply: state and since per line)
TILES_EVERY_S = 5.0  # ... and redraw the tiles (OEE, progress) at least this often
HEARTBEAT_S = 2.0


def now(request: Request) -> datetime:
    """The pages' clock: the wall clock, or the simulator's in the demo and the tests."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock else datetime.now(UTC)


# Every write of the pages: the form's CSRF token is checked (``CSRF``), then the role (403), and the
# route gets an AuditedWrite whose ``write`` records the audit row in the domain's transaction.
CSRF = [Depends(csrf_protect)]
Assign = Annotated[AuditedWrite, Depends(audited("downtime.assign"))]
EditStops = Annotated[AuditedWrite, Depends(audited("downtime.edit"))]
Adjust = Annotated[AuditedWrite, Depends(audited("counts.adjust"))]
Plan = Annotated[AuditedWrite, Depends(audited("orders.plan"))]
Transition = Annotated[AuditedWrite, Depends(audited("orders.transition"))]
Inspect = Annotated[AuditedWrite, Depends(audited("quality.inspect"))]
Handover = Annotated[AuditedWrite, Depends(audited("handover.write"))]
Calendar = Annotated[AuditedWrite, Depends(audited("calendar.edit"))]


def back(url: str, **params: Any) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{url}?{query}" if query else url, status_code=303)


# --------------------------------------------------------------------------- andon board


@router.get("/", response_class=HTMLResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/andon", status_code=303)


@router.get("/andon", response_class=HTMLResponse)
def andon(request: Request, conn: Conn) -> HTMLResponse:
    moment = now(request)
    tiles = views.andon_tiles(conn, moment)
    return render(request, "andon.html", {"tiles": tiles, "now": moment}, timezone=_zone(tiles, request))


def _zone(tiles: list[dict], request: Request) -> str | None:
    return tiles[0]["timezone"] if tiles else None


@router.get("/andon/events")
async def andon_events(request: Request) -> StreamingResponse:
    """Server-Sent Events: the tiles' HTML whenever it changes."""
    pool = request.app.state.pool

    drawn: dict[str, Any] = {"key": None, "html": "", "at": 0.0}

    def read() -> tuple[str, str]:
        moment = now(request)
        with pool.connection() as conn:
            key = views.andon_key(conn)
            if key != drawn["key"] or time.monotonic() - drawn["at"] > TILES_EVERY_S:
                tiles = views.andon_tiles(conn, moment)
                html = fragment(request, "andon_tiles.html", "tiles_html", tiles=tiles, timezone=_zone(tiles, request))
                drawn.update(key=key, html=html, at=time.monotonic(), zone=_zone(tiles, request))
        return drawn["html"], formats(request, drawn.get("zone")).time_s(moment)

    return feed(request, read)


def feed(request: Request, read: Callable[[], tuple[str, str]]) -> StreamingResponse:
    """Server-Sent Events: ``read()``'s HTML whenever it changes, and a heartbeat every 2 s
    (the page's "last update" turns red when they stop)."""

    async def stream() -> AsyncIterator[str]:
        last, quiet = None, 0.0
        while not await request.is_disconnected():
            html, at = await asyncio.to_thread(read)
            if html != last or quiet >= HEARTBEAT_S:
                yield f"event: update\ndata: {json.dumps({'html': html, 'at': at, 'changed': html != last})}\n\n"
                last, quiet = html, 0.0
            await asyncio.sleep(FEED_EVERY_S)
            quiet += FEED_EVERY_S

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


# --------------------------------------------------------------------------- line page


@router.get("/lines/{line_id}", response_class=HTMLResponse)
def line_page(line_id: LineId, request: Request, conn: Conn) -> HTMLResponse:
    page = call(views.line_page, conn, line_id, now(request))
    window = page["window"]
    until = window["shift"]["end"] if window["shift"] else window["end"]  # the whole shift, the future empty
    timeline = charts.timeline(page["timeline"], window["start"], until)
    return render(request, "line.html", {**page, "chart": timeline, "msg": request.query_params.get("msg"),
                                         "undo": request.query_params.get("undo")},
                  timezone=page["unit"]["timezone"])  # fmt: skip


@router.get("/lines/{line_id}/events")
async def line_events(line_id: LineId, request: Request) -> StreamingResponse:
    """Server-Sent Events for the line page: its head (state, since when, the open stop) on every
    change; the shift's stop count rides along so the page can offer the new stops."""
    pool = request.app.state.pool

    def read() -> tuple[str, str]:
        moment = now(request)
        with pool.connection() as conn:
            head = call(views.line_now, conn, line_id, moment)
        zone = head["unit"]["timezone"]
        html = fragment(request, "line_head.html", "line_head", unit=head["unit"], state=head["state"],
                        state_class=head["state_class"], open_stop=head["open_stop"], window=head["window"],
                        timezone=zone)  # fmt: skip
        return f'<template data-stops="{head["stops"]}"></template>{html}', formats(request, zone).time_s(moment)

    return feed(request, read)


@router.post("/lines/{line_id}/stops/{event_id}/reason", dependencies=CSRF)
def assign_reason(line_id: LineId, event_id: Id, conn: Conn, reason_code: Annotated[str, Form(max_length=100)],
                  caller: Assign) -> RedirectResponse:  # fmt: skip
    event = call(caller.write, conn, f"downtime_event:{event_id}", downtime.assign_reason, event_id, reason_code,
                   caller.user.name, "from the line page", before=lambda: downtime.get_event(conn, event_id))
    return back(f"/lines/{line_id}", msg="reason_set", undo=event["assignment_id"])


@router.post("/lines/{line_id}/assignments/{assignment_id}/undo", dependencies=CSRF)
def undo_reason(line_id: LineId, assignment_id: Id, conn: Conn, caller: Assign) -> RedirectResponse:
    call(caller.write, conn, f"downtime_assignment:{assignment_id}", downtime.undo_assignment, assignment_id,
           caller.user.name)
    return back(f"/lines/{line_id}", msg="undone")


@router.post("/lines/{line_id}/stops/{event_id}/split", dependencies=CSRF)
def split_stop(line_id: LineId, event_id: Id, conn: Conn, at: Annotated[datetime, Form()],
               caller: EditStops) -> RedirectResponse:  # fmt: skip
    if at.tzinfo is None:
        raise HTTPException(422, "at: give the split time with its offset")
    call(caller.write, conn, f"downtime_event:{event_id}", downtime.split_event, event_id, at, caller.user.name,
           "split on the line page", before=lambda: downtime.get_event(conn, event_id))
    return back(f"/lines/{line_id}", msg="split")


@router.post("/lines/{line_id}/counts", dependencies=CSRF)
def adjust_count(line_id: LineId, request: Request, conn: Conn,
                 kind: Annotated[str, Form(pattern="^(good|reject|rework)$")],
                 quantity: Annotated[float, Form(ge=-1e9, le=1e9)], why: Annotated[str, Form(max_length=500)],
                 caller: Adjust) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, lambda adjustment: f"count_adjustment:{adjustment}", counts.adjust_count, line_id,
           kind, now(request), quantity, why, caller.user.name)
    return back(f"/lines/{line_id}", msg="count_adjusted")


@router.post("/lines/{line_id}/inspections", dependencies=CSRF)
def record_inspection(line_id: LineId, conn: Conn, spec_id: Annotated[int, Form(ge=1)],
                      values: Annotated[str, Form(max_length=10_000)], caller: Inspect,
                      due_id: Annotated[int | None, Form()] = None,
                      work_order_id: Annotated[int | None, Form()] = None) -> RedirectResponse:  # fmt: skip
    try:
        measurements = [float(v) for v in values.replace(",", " ").split()]
    except ValueError as exc:
        raise HTTPException(422, f"values: not a number list: {values!r}") from exc
    try:
        record = inspections.RecordIn(spec_id=spec_id, due_id=due_id, work_order_id=work_order_id, line_id=line_id,
                                      inspector=caller.user.name, measurements=measurements)  # fmt: skip
    except ValidationError as exc:
        raise HTTPException(422, str(exc)) from exc
    saved = call(caller.write, conn, lambda r: f"inspection:{r['id']}", inspections.record_inspection, record)
    return back(f"/lines/{line_id}", msg="inspection_out" if saved["nonconforming"] else "inspection_ok",
                record=saved["id"])


@router.post("/lines/{line_id}/handover", dependencies=CSRF)
def write_handover(line_id: LineId, request: Request, conn: Conn, note: Annotated[str, Form(max_length=4000)],
                   caller: Handover, open_item: Annotated[bool, Form()] = False) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, lambda n: f"handover_note:{n['id']}", handover.add_note, line_id, note,
           caller.user.name, open_item, now(request))
    return back(f"/lines/{line_id}", msg="note_saved")


@router.post("/lines/{line_id}/handover/{note_id}/close", dependencies=CSRF)
def close_item(line_id: LineId, note_id: Id, request: Request, conn: Conn, caller: Handover) -> RedirectResponse:
    call(caller.write, conn, f"handover_note:{note_id}", handover.close_item, note_id, caller.user.name,
           now(request))
    return back(f"/lines/{line_id}", msg="item_closed")


# --------------------------------------------------------------------------- orders


@router.get("/orders", response_class=HTMLResponse)
def order_list(request: Request, conn: Conn, line: str | None = None,
               status: Annotated[str | None, Query(pattern="^[a-z]*$")] = None) -> HTMLResponse:
    page = views.orders_page(conn, line or None, status or None)
    return render(request, "orders.html", {**page, "line": line, "status": status,
                                           "msg": request.query_params.get("msg")},
                  timezone=page["lines"][0]["timezone"] if page["lines"] else None)  # fmt: skip


@router.post("/orders", dependencies=CSRF)
def create_order(conn: Conn, number: Annotated[str, Form(min_length=1, max_length=100)],
                 line_id: Annotated[str, Form(max_length=200)], product_id: Annotated[str, Form(max_length=200)],
                 planned_quantity: Annotated[float, Form(gt=0, le=1e12)], caller: Plan) -> RedirectResponse:
    order = call(caller.write, conn, lambda o: f"order:{o['id']}", orders.create_order, number.strip(), line_id,
                   product_id, planned_quantity, caller.user.name)
    return back(f"/orders/{order['id']}", msg="order_created")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: Id, request: Request, conn: Conn) -> HTMLResponse:
    page = call(views.order_page, conn, order_id, now(request))
    return render(request, "order.html", {**page, "msg": request.query_params.get("msg")},
                  timezone=views.unit(conn, page["order"]["line_id"])["timezone"])


@router.post("/orders/{order_id}/{verb}", dependencies=CSRF)
def order_action(order_id: Id, verb: Annotated[str, Path(pattern="^(release|start|resume|pause|complete|cancel)$")],
                 request: Request, conn: Conn, caller: Transition) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"order:{order_id}", orders.transition, order_id, orders.ACTIONS[verb],
           caller.user.name, now(request), before=lambda: orders.get_order(conn, order_id))
    return back(f"/orders/{order_id}", msg=f"order_{verb}")


# --------------------------------------------------------------------------- manager OEE


@dataclass(frozen=True)
class OeeQuery:
    """The manager page's choice, all in the URL so a view can be bookmarked and sent."""

    line: str | None
    period: str
    day: str | None
    start: str | None
    end: str | None
    by: str

    def url(self, **change: str) -> str:
        return urlencode({k: v for k, v in {**asdict(self), **change}.items() if v})


def oee_query(line: Annotated[str | None, Query(max_length=200)] = None,
              period: Annotated[str, Query(pattern="^(day|week|month|custom)$")] = "day",
              day: str | None = None, start: str | None = None, end: str | None = None,
              by: Annotated[str, Query(pattern="^(period|shift|product|order)$")] = "shift") -> OeeQuery:
    return OeeQuery(line or None, period, day or None, start or None, end or None, by)


Oee = Annotated[OeeQuery, Depends(oee_query)]


def _oee(conn: psycopg.Connection, request: Request, q: OeeQuery, line_id: str) -> tuple[dict, periods.Period, dict]:
    unit = call(views.unit, conn, line_id)
    choice = call(periods.choose, q.period, q.day, q.start, q.end, unit["timezone"], now(request))
    return unit, choice, call(views.oee_page, conn, line_id, choice.start, choice.end, q.by)


@router.get("/oee", response_class=HTMLResponse)
def oee(request: Request, conn: Conn, q: Oee) -> HTMLResponse:
    lines = views.lines(conn)
    line_id = q.line or (lines[0]["id"] if lines else None)
    if line_id is None:
        return render(request, "oee.html", {"lines": [], "choice": None})
    unit, choice, page = _oee(conn, request, q, line_id)
    return render(request, "oee.html", {**page, "lines": lines, "line_id": line_id, "choice": choice, "by": q.by,
                                        "fall": charts.waterfall(page["waterfall"]),
                                        "bars": charts.pareto(page["pareto"]), "query": q.url(line=line_id)},
                  timezone=unit["timezone"])  # fmt: skip


OEE_TABLES = "^(kpi|lines|waterfall|pareto|changeovers|delivery|stops|rootcause|machines)$"


@router.get("/oee/{table}.{fmt}")
def oee_download(table: Annotated[str, Path(pattern=OEE_TABLES)],
                 fmt: Annotated[str, Path(pattern="^(csv|xlsx)$")], request: Request, conn: Conn,
                 q: Oee, reason: Annotated[str | None, Query(max_length=200)] = None) -> Response:  # fmt: skip
    if q.line is None:
        raise HTTPException(422, "line: choose a line")
    if table == "stops":  # the Pareto drill-down: the stops behind one bar
        unit = call(views.unit, conn, q.line)
        choice = call(periods.choose, q.period, q.day, q.start, q.end, unit["timezone"], now(request))
        stops = call(views.pareto_stops_page, conn, q.line, choice.start, choice.end, reason or "")["stops"]
        return exports.download(stops, f"stops-{q.line}-{choice.first}-{choice.last}", fmt)
    _, choice, page = _oee(conn, request, q, q.line)
    rows = {"kpi": page["groups"] or [page["total"]], "lines": page["by_line"], "waterfall": page["waterfall"],
            "pareto": page["pareto"], "changeovers": page["changeovers"], "delivery": page["delivery"],
            "rootcause": page["root_cause"], "machines": page["machines"]}[table]
    name = f"{table}-{q.line}-{choice.first}-{choice.last}"
    return exports.download(rows, name, fmt)


# --------------------------------------------------------------------------- admin


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, conn: Conn) -> HTMLResponse:
    """Users and roles, reason trees and the shift calendar (the config stays the source of the plant)."""
    page = views.admin_page(conn, now(request))
    return render(request, "admin.html", {**page, "roles": ROLES, "msg": request.query_params.get("msg")},
                  timezone=page["lines"][0]["timezone"] if page["lines"] else None)  # fmt: skip


@router.post("/admin/users", dependencies=CSRF)
def add_user(request: Request, conn: Conn, name: Annotated[str, Form(min_length=1, max_length=100)],
             role: Annotated[str, Form(max_length=40)], password: Annotated[str, Form(max_length=1024)],
             user: Annotated[User, Depends(require("users.manage"))],
             locale: Annotated[str, Form(pattern="^(zh-CN|en)$")] = "zh-CN") -> RedirectResponse:  # fmt: skip
    call(users.add_user, conn, name.strip(), role, password, actor=user.name, locale=locale,
           address=request.client.host if request.client else None)
    return back("/admin", msg="user_added")


@router.post("/admin/users/{name}/role", dependencies=CSRF)
def change_role(name: Annotated[str, Path(max_length=100)], request: Request, conn: Conn,
                role: Annotated[str, Form(max_length=40)],
                user: Annotated[User, Depends(require("users.manage"))]) -> RedirectResponse:  # fmt: skip
    call(users.change_user, conn, name, actor=user.name, role=role,
           address=request.client.host if request.client else None)
    return back("/admin", msg="user_changed")


@router.post("/admin/holidays", dependencies=CSRF)
def add_holiday(conn: Conn, day: Annotated[date, Form()], name: Annotated[str, Form(min_length=1, max_length=200)],
                caller: Calendar, line_id: Annotated[str | None, Form(max_length=200)] = None) -> RedirectResponse:
    call(caller.write, conn, f"holiday:{day}", shifts.add_holiday, day, name.strip(), caller.user.name,
           line_id or None)
    return back("/admin", msg="holiday_added")
