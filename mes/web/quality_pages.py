"""Quality pages: SPC charts with their rule violations, nonconformances with their dispositions,
lot genealogy with the process data per lot. Routes parse, check the role, call one domain
function and render (docs/pages.md); dispositions and closing need ``quality.disposition`` and
record their audit row in the domain's transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from mes.api.deps import Conn, call
from mes.auth.deps import AuditedWrite, audited, read_access
from mes.quality import nonconformances
from mes.web import quality_views
from mes.web.render import render
from mes.web.routes import CSRF, Id, back, now

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
Approve = Annotated[AuditedWrite, Depends(audited("quality.disposition"))]
ChartId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LotCode = Annotated[str, Path(min_length=1, max_length=200)]


@router.get("/quality", response_class=HTMLResponse)
def quality(request: Request, conn: Conn,
            status: Annotated[str | None, Query(pattern="^(open|dispositioned|closed)?$")] = None) -> HTMLResponse:
    page = quality_views.quality_page(conn, status or None)
    return render(request, "quality.html", {**page, "status": status}, timezone=quality_views.plant_zone(conn))


@router.get("/quality/spc/{chart_id}", response_class=HTMLResponse)
def spc_chart(chart_id: ChartId, request: Request, conn: Conn,
              days: Annotated[int, Query(ge=1, le=3660)] = 30) -> HTMLResponse:
    """The chart over the last ``days`` days (default 30)."""
    end = now(request)
    page = call(quality_views.spc_page, conn, chart_id, end - timedelta(days=days), end + timedelta(seconds=1))
    return render(request, "spc.html", {**page, "days": days},
                  timezone=quality_views.plant_zone(conn, page["spec"] and page["spec"]["line_id"]))


@router.get("/quality/nonconformances/{nc_id}", response_class=HTMLResponse)
def nonconformance(nc_id: Id, request: Request, conn: Conn) -> HTMLResponse:
    page = call(quality_views.nonconformance_page, conn, nc_id)
    return render(request, "nonconformance.html", {**page, "msg": request.query_params.get("msg")},
                  timezone=quality_views.plant_zone(conn, page["nc"]["line_id"]))


@router.post("/quality/nonconformances/{nc_id}/dispositions", dependencies=CSRF)
def disposition(nc_id: Id, conn: Conn, caller: Approve,
                decision: Annotated[str, Form(pattern="^(scrap|rework|use_as_is|return_to_supplier)$")],
                quantity: Annotated[float, Form(gt=0, le=1e12)],
                note: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:  # fmt: skip
    try:
        body = nonconformances.DispositionIn(disposition=decision, quantity=quantity, note=note,  # type: ignore[arg-type]
                                             approved_by=caller.user.name)  # fmt: skip
    except ValidationError as exc:
        raise HTTPException(422, str(exc)) from exc
    call(caller.write, conn, f"nonconformance:{nc_id}", nonconformances.disposition, nc_id, body,
         before=lambda: nonconformances.get_nonconformance(conn, nc_id))
    return back(f"/quality/nonconformances/{nc_id}", msg="nc_dispositioned")


@router.post("/quality/nonconformances/{nc_id}/close", dependencies=CSRF)
def close(nc_id: Id, conn: Conn, caller: Approve,
          note: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"nonconformance:{nc_id}", nonconformances.close, nc_id, caller.user.name, note,
         before=lambda: nonconformances.get_nonconformance(conn, nc_id))
    return back(f"/quality/nonconformances/{nc_id}", msg="nc_closed")


@router.get("/quality/lots", response_class=HTMLResponse)
def find_lot(code: Annotated[str, Query(min_length=1, max_length=200)]) -> RedirectResponse:
    """The lot search box: to the lot's page (its code or its supplier's lot number)."""
    return RedirectResponse(f"/quality/lots/{code.strip()}", status_code=303)


@router.get("/quality/lots/{code}", response_class=HTMLResponse)
def lot(code: LotCode, request: Request, conn: Conn,
        direction: Annotated[Literal["backward", "forward"], Query()] = "backward") -> HTMLResponse:
    page = call(quality_views.lot_page, conn, code, direction)
    return render(request, "lot.html", page, timezone=quality_views.plant_zone(conn, page["lot"]["line_id"]))
