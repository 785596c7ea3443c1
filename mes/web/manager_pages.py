"""Manager pages beyond the OEE report's tables: the stops behind a bar of the downtime Pareto
(the drill-down; its CSV/XLSX is ``/oee/stops.{csv,xlsx}?…&reason=``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from mes.api.deps import Conn, call
from mes.auth.deps import read_access
from mes.web import periods, views
from mes.web.render import render
from mes.web.routes import Oee, now

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])


@router.get("/oee/stops", response_class=HTMLResponse)
def pareto_stops(request: Request, conn: Conn, q: Oee,
                 reason: Annotated[str, Query(min_length=1, max_length=200)]) -> HTMLResponse:  # fmt: skip
    lines = views.lines(conn)
    line_id = q.line or (lines[0]["id"] if lines else "")
    unit = call(views.unit, conn, line_id)
    choice = call(periods.choose, q.period, q.day, q.start, q.end, unit["timezone"], now(request))
    page = call(views.pareto_stops_page, conn, line_id, choice.start, choice.end, reason)
    return render(request, "oee_stops.html", {**page, "unit": unit, "choice": choice, "reason": reason,
                                              "query": q.url(line=line_id)}, timezone=unit["timezone"])  # fmt: skip
