"""Admin page writes beyond users and holidays: products, ideal cycle times and downtime reasons
that the plant config does not name (``mes.production.master_data``; what the config owns is
shown read-only and refused here). Each needs ``plant.edit`` and records its audit row."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse

from mes.api.deps import Conn, call
from mes.auth.deps import AuditedWrite, audited, read_access
from mes.production import master_data
from mes.web.routes import CSRF, back

router = APIRouter(include_in_schema=False, dependencies=[Depends(read_access)])
PlantEdit = Annotated[AuditedWrite, Depends(audited("plant.edit"))]
Text = Annotated[str, Form(max_length=200)]


@router.post("/admin/products", dependencies=CSRF)
def add_product(conn: Conn, caller: PlantEdit, product_id: Text, name: Text,
                unit: Annotated[str, Form(max_length=20)] = "pcs") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"product:{product_id.strip()}", master_data.add_product, product_id, name, unit)
    return back("/admin", msg="product_added")


@router.post("/admin/cycle-times", dependencies=CSRF)
def set_cycle_time(conn: Conn, caller: PlantEdit, product_id: Text, line_id: Text,
                   ideal_cycle_time: Annotated[float, Form(gt=0, le=86400)]) -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"product_cycle_time:{product_id}@{line_id}", master_data.set_cycle_time, product_id,
         line_id, ideal_cycle_time)
    return back("/admin", msg="cycle_time_set")


@router.post("/admin/reasons", dependencies=CSRF)
def add_reason(conn: Conn, caller: PlantEdit, line_id: Text, code: Text, name: Text, category: Text,
               time_element: Annotated[str, Form(pattern="^(ADET|AUST|PDT|ADOT)$")] = "ADET",
               loss: Annotated[str, Form(max_length=40)] = "breakdown") -> RedirectResponse:  # fmt: skip
    call(caller.write, conn, f"downtime_reason:{line_id}/{code.strip()}", master_data.add_reason, line_id, code,
         name, category, time_element, loss)
    return back("/admin", msg="reason_added")


@router.post("/admin/reasons/{line_id}/{code}/retire", dependencies=CSRF)
def retire_reason(line_id: str, code: str, conn: Conn, caller: PlantEdit) -> RedirectResponse:
    call(caller.write, conn, f"downtime_reason:{line_id}/{code}", master_data.retire_reason, line_id, code)
    return back("/admin", msg="reason_retired")
