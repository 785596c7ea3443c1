"""Job-shop pages: routed orders, an order's tracking, the scan station (a keyboard-wedge scanner
types the ticket's code and Enter into the focused field), operator output with CSV/XLSX for
payroll, and the read-only share page. Thin: parse, check the role, call mes.routing, render."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mes.api.deps import Conn, call
from mes.auth.deps import AuditedWrite, audited, csrf_protect, read_access
from mes.errors import NotFound
from mes.routing import flow, operations, output, reports, routings, sharing
from mes.web import exports, views
from mes.web.render import render
from mes.web.routes import back, now

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
shared = APIRouter(include_in_schema=False)  # /share/<token>: no sign-in, that one order only
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
CSRF = [Depends(csrf_protect)]
Plan = Annotated[AuditedWrite, Depends(audited("routing.plan"))]
Report = Annotated[AuditedWrite, Depends(audited("routing.report"))]
STYLE = "/static/routing.css"


@router.get("/routing", response_class=HTMLResponse)
def routed_orders(request: Request, conn: Conn) -> HTMLResponse:
    return render(request, "routing_orders.html", {"orders": operations.routed_orders(conn),
                                                   "routings": routings.list_routings(conn)})  # fmt: skip


def _timezone(conn: Conn, line_id: str) -> str:
    return str(views.unit(conn, line_id)["timezone"])


@router.get("/routing/orders/{order_id}", response_class=HTMLResponse)
def tracking_page(order_id: Id, request: Request, conn: Conn) -> HTMLResponse:
    return _tracking(order_id, request, conn)


def _tracking(order_id: int, request: Request, conn: Conn, new_link: dict | None = None) -> HTMLResponse:
    tracked = call(flow.tracking, conn, order_id, now(request))
    return render(request, "routing_order.html", {"t": tracked, "links": sharing.links(conn, order_id),
                                                  "new_link": new_link, "msg": request.query_params.get("msg")},
                  timezone=_timezone(conn, tracked["order"]["line_id"]))  # fmt: skip


@router.post("/routing/orders/{order_id}/share", dependencies=CSRF, response_class=HTMLResponse)
def share(order_id: Id, request: Request, conn: Conn, caller: Plan) -> HTMLResponse:
    """The new link is shown on this answer only (never in a redirect URL or a log)."""
    link = call(caller.write, conn, lambda made: f"share_link:{made['id']}", sharing.create_link, order_id,
                caller.user.name, after=sharing.without_token)  # fmt: skip
    return _tracking(order_id, request, conn, new_link={**link, "url": str(request.base_url).rstrip("/")
                                                            + link["path"]})  # fmt: skip


@router.post("/routing/share-links/{link_id}/revoke", dependencies=CSRF)
def revoke(link_id: Id, conn: Conn, caller: Plan) -> RedirectResponse:
    link = call(caller.write, conn, f"share_link:{link_id}", sharing.revoke_link, link_id, caller.user.name)
    return back(f"/routing/orders/{link['order_id']}", msg="link_revoked")


@shared.get("/share/{token}", response_class=HTMLResponse)
def shared_tracking(token: Annotated[str, Path(min_length=1, max_length=200)], request: Request,
                    conn: Conn) -> HTMLResponse:  # fmt: skip
    try:
        order_id = sharing.order_of(conn, token)
    except NotFound:
        return render(request, "routing_share.html", {"t": None}, status_code=404)
    tracked = flow.tracking(conn, order_id, now(request))
    zone = _timezone(conn, tracked["order"]["line_id"])
    response = render(request, "routing_share.html", {"t": tracked}, timezone=zone)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token must not leak through links
    return response


# --------------------------------------------------------------------------- scan station


@router.get("/scan", response_class=HTMLResponse)
def scan_page(request: Request, conn: Conn, centre: Annotated[str | None, Query(max_length=200)] = None,
              operator: Annotated[str | None, Query(max_length=100)] = None,
              report: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> HTMLResponse:  # fmt: skip
    last = reports.get_report(conn, report) if report else None
    return render(request, "routing_scan.html", {"centres": routings.list_work_centres(conn), "centre": centre,
                                                 "operator": operator, "last": last,
                                                 "msg": request.query_params.get("msg")})  # fmt: skip


@router.post("/scan", dependencies=CSRF)
def scan(conn: Conn, caller: Report, code: Annotated[str, Form(min_length=1, max_length=200)],
         centre: Annotated[str, Form(min_length=1, max_length=200)],
         operator: Annotated[str, Form(max_length=100)] = "", scrap: Annotated[float, Form(ge=0, le=10_000)] = 0,
         rework: Annotated[float, Form(ge=0, le=10_000)] = 0) -> RedirectResponse:  # fmt: skip
    made = call(caller.write, conn, lambda r: f"operation_report:{r['id']}", reports.record_scan, code,
                caller.user.name, operator=operator.strip() or None, work_centre_id=centre, scrap=scrap,
                rework=rework)  # fmt: skip
    msg = "scan_duplicate" if made["duplicate"] else "scan_out_of_sequence" if made["out_of_sequence"] else "scan_ok"
    return back("/scan", centre=centre, operator=operator.strip() or None, report=made["id"], msg=msg)


# --------------------------------------------------------------------------- operator output


def _day(request: Request, conn: Conn, day: str | None, line: str | None) -> tuple[date, datetime, datetime]:
    try:
        chosen = date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise HTTPException(422, f"day: not a date: {day!r}") from exc
    return output.plant_day(conn, chosen, now(request), line or None)


@router.get("/routing/output", response_class=HTMLResponse)
def output_page(request: Request, conn: Conn, day: Annotated[str | None, Query(max_length=10)] = None,
                line: Annotated[str | None, Query(max_length=200)] = None) -> HTMLResponse:  # fmt: skip
    chosen, start, end = _day(request, conn, day, line)
    rows = output.operator_output(conn, start, end, line or None, now=now(request))
    return render(request, "routing_output.html", {"rows": rows, "day": chosen, "line": line,
                                                   "prev": chosen - timedelta(days=1),
                                                   "next": chosen + timedelta(days=1)},
                  timezone=str(start.tzinfo))  # fmt: skip


@router.get("/routing/output.{fmt}")
def output_download(fmt: Annotated[str, Path(pattern="^(csv|xlsx)$")], request: Request, conn: Conn,
                    day: Annotated[str | None, Query(max_length=10)] = None,
                    line: Annotated[str | None, Query(max_length=200)] = None, detail: bool = False) -> Response:
    chosen, start, end = _day(request, conn, day, line)
    found = output.output_detail(conn, start, end, line or None) if detail else \
        output.operator_output(conn, start, end, line or None, now=now(request))
    name = f"operator-output{'-detail' if detail else ''}-{chosen}"
    return exports.download(found, name, fmt)
