"""The recipe download page of an order: what would be written (checked, nothing sent) and the
button that downloads it. Thin: parse, call mes.recipes.download (which checks the role and every
value, and audits every attempt), render the per-parameter report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from mes.api.deps import Conn, call
from mes.auth.deps import client_address, csrf_protect, current_user, read_access
from mes.auth.models import User
from mes.production.orders import get_order
from mes.recipes.download import download, plan_download
from mes.recipes.setpoints import Origin
from mes.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Viewer = Annotated[User, Depends(current_user)]


@router.get("/recipes/orders/{order_id}", response_class=HTMLResponse)
def recipe_page(order_id: Id, request: Request, conn: Conn, user: Viewer) -> HTMLResponse:
    """The order's recipe as it would be downloaded by this user: every check done, nothing written."""
    order = call(get_order, conn, order_id)
    report = call(plan_download, conn, order["number"], user, where="path")
    return render(request, "recipe_download.html", {"order": order, "report": report})


@router.post("/recipes/orders/{order_id}", response_class=HTMLResponse, dependencies=[Depends(csrf_protect)])
def recipe_download(order_id: Id, request: Request, conn: Conn, user: Viewer) -> HTMLResponse:
    """Download the order's recipe now; the page shows what happened to each parameter."""
    order = call(get_order, conn, order_id)
    origin = Origin(client_address(request), f"POST {request.url.path}")
    report = call(download, request.app.state.database_url, user, order["number"], origin=origin, where="path")
    return render(request, "recipe_download.html", {"order": order, "report": report})
