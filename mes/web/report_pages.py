"""The reports page: stored reports (scheduled and made by hand) to download, a form to make one
and a form to sign a period off, each shown to the roles that may use it. Thin: parse, check the
role, call mes.reports, render."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mes.api import report_routes
from mes.api.deps import Conn, call
from mes.auth.deps import AuditedWrite, audited, csrf_protect, read_access
from mes.production.equipment import list_equipment
from mes.reports import service, store
from mes.web.render import render
from mes.web.routes import back, now

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
CSRF = [Depends(csrf_protect)]
Generate = Annotated[AuditedWrite, Depends(audited("reports.generate"))]
SignOff = Annotated[AuditedWrite, Depends(audited("reports.sign_off"))]
Kind = Annotated[Literal["shift", "day", "week", "month"], Form()]
Day = Annotated[date | None, Form()]
Shift = Annotated[str, Form(max_length=60)]
LineId = Annotated[str, Form(max_length=200)]  # empty: the whole plant


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, conn: Conn, line: str | None = None) -> HTMLResponse:
    lines = list_equipment(conn, "line")
    return render(request, "reports.html", {"reports": store.list_reports(conn, line or None), "lines": lines,
                                            "line": line, "msg": request.query_params.get("msg")},
                  timezone=lines[0]["timezone"] if lines else None)  # fmt: skip


# The same download as the API's (one route function, two paths).
router.get("/reports/{report_id}/file")(report_routes.report_file)


@router.post("/reports", dependencies=CSRF)
def make_report(request: Request, conn: Conn, caller: Generate, kind: Kind, line_id: LineId = "", day: Day = None,
                shift: Shift = "", fmt: Annotated[Literal["pdf", "xlsx"], Form(alias="format")] = "pdf",
                lang: Annotated[Literal["zh-CN", "en"], Form()] = "zh-CN") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, lambda made: f"report:{made['id']}", service.generate, line_id or None, kind, day,
         shift or None, fmt, lang, caller.user.name, now(request),
         after=lambda made: {k: made[k] for k in ("id", "period_key", "format", "language")})  # fmt: skip
    return back("/reports", msg="report_made")


@router.post("/reports/sign-off", dependencies=CSRF)
def sign_off(request: Request, conn: Conn, caller: SignOff, kind: Kind, line_id: LineId = "", day: Day = None,
             shift: Shift = "", note: Annotated[str, Form(max_length=2000)] = "") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, lambda signed: f"sign-off:{signed['period_key']}", service.sign_period_off,
         line_id or None, kind, day, shift or None, caller.user.name, note, now(request))  # fmt: skip
    return back("/reports", msg="signed_off")
