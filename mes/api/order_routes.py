"""Work orders under ``/api/orders``: create, list, read with progress, lifecycle transitions."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from mes.api.auth import AuditedWrite, audited
from mes.api.deps import Conn, call
from mes.bounds import PositiveQuantity
from mes.production import orders

router = APIRouter(prefix="/api/orders", tags=["orders"])
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Status = Literal["planned", "released", "running", "paused", "completed", "cancelled"]
Action = Literal["release", "start", "resume", "pause", "complete", "cancel"]


class OrderIn(BaseModel):
    number: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    line_id: str = Field(min_length=1, max_length=200)
    product_id: str = Field(min_length=1, max_length=200)
    planned_quantity: PositiveQuantity
    due_at: AwareDatetime | None = None
    note: str = Field(default="", max_length=1000)


class TransitionIn(BaseModel):
    at: AwareDatetime | None = Field(default=None, description="when it happened (default: now)")
    note: str = Field(default="", max_length=500)


@router.get("")
def list_orders(conn: Conn, line_id: str | None = None, status: Status | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list:  # fmt: skip
    """Orders, newest first."""
    return call(orders.list_orders, conn, line_id, status, limit, where="query")


Plan = Annotated[AuditedWrite, Depends(audited("orders.plan"))]
Transition = Annotated[AuditedWrite, Depends(audited("orders.transition"))]


def _order(order: dict) -> str:
    return f"order:{order['id']}"


@router.post("", status_code=201)
def create(body: OrderIn, conn: Conn, caller: Plan) -> dict:
    """A new order in status planned."""
    return call(caller.write, conn, _order, orders.create_order, body.number, body.line_id, body.product_id,
                body.planned_quantity, caller.user.name, body.due_at, body.note)  # fmt: skip


class OrderChange(BaseModel):
    planned_quantity: PositiveQuantity | None = None
    due_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=1000)


@router.patch("/{order_id}")
def change(order_id: OrderId, body: OrderChange, conn: Conn, caller: Plan) -> dict:
    """Change the plan (quantity, due time, note) of an unfinished order; each change is logged."""
    return call(caller.write, conn, f"order:{order_id}", orders.update_order, order_id, caller.user.name,
                body.model_dump(exclude_unset=True, exclude_none=True),
                before=lambda: orders.get_order(conn, order_id))  # fmt: skip


@router.get("/{order_id}")
def read(order_id: OrderId, conn: Conn) -> dict:
    """An order with its progress (produced, good, scrap, projected finish) and its transitions."""
    order = call(orders.get_order, conn, order_id)
    return {**order, "progress": call(orders.order_progress, conn, order_id),
            "transitions": orders.transitions(conn, order_id)}  # fmt: skip


@router.post("/{order_id}/{action}")
def act(order_id: OrderId, action: Action, conn: Conn, caller: Transition, body: TransitionIn | None = None) -> dict:
    """Release, start, resume, pause, complete or cancel; stamped with the user and time.
    A second running order on the line is refused with 409."""
    body = body or TransitionIn()
    return call(caller.write, conn, f"order:{order_id}", orders.transition, order_id, orders.ACTIONS[action],
                caller.user.name, body.at, body.note, before=lambda: orders.get_order(conn, order_id))  # fmt: skip
