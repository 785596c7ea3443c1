"""Job shops under ``/api/routing``: work centres, routings, routed orders and their bundles,
scans and bookings per operation, the order's tracking, operator output, attendance and the
read-only share links of an order's tracking (docs/routing.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from mes.api.auth import AuditedWrite, audited
from mes.api.deps import Conn, call
from mes.bounds import PositiveQuantity
from mes.routing import flow, operations, output, reports, routings, sharing, stations

router = APIRouter(prefix="/api/routing", tags=["routing"])
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]
Pieces = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
Plan = Annotated[AuditedWrite, Depends(audited("routing.plan"))]
Report = Annotated[AuditedWrite, Depends(audited("routing.report"))]
Attendance = Annotated[AuditedWrite, Depends(audited("attendance.record"))]


class WorkCentreIn(BaseModel):
    id: Name
    kind: Literal["line", "cell", "manual"]
    line_id: Name
    name: str = Field(default="", max_length=200)
    equipment_id: Name | None = None
    operation_tag: Name | None = Field(default=None, description="PLC tag: '<order>/<operation>' or the operation")


@router.get("/work-centres")
def list_work_centres(conn: Conn) -> list:
    return routings.list_work_centres(conn)


@router.put("/work-centres")
def save_work_centre(body: WorkCentreIn, conn: Conn, caller: Plan) -> dict:
    """Add or change a work centre (a line or cell names its equipment; a manual station has none)."""
    return call(caller.write, conn, f"work_centre:{body.id}", routings.save_work_centre, body.id, body.kind,
                body.line_id, body.name, body.equipment_id, body.operation_tag)  # fmt: skip


@router.get("/work-centres/{centre_id}/kpi")
def work_centre_kpi(centre_id: Annotated[str, Path(min_length=1, max_length=200)], conn: Conn, start: AwareDatetime,
                    end: AwareDatetime) -> dict:  # fmt: skip
    """The work centre's time model: PBT from the calendar, quantities and OEE (PRU = SAM) from its
    reports, what cannot be measured without machine data, and the machine's own KPIs if it has any."""
    return call(stations.station_kpi, conn, centre_id, start, end, where="query")


class OperationIn(BaseModel):
    seq: int = Field(ge=1, le=2**31 - 1)
    name: Name
    work_centre_id: Name
    sam_minutes: float = Field(ge=0, le=10_000, allow_inf_nan=False)
    setup_minutes: float = Field(default=0, ge=0, le=100_000, allow_inf_nan=False)
    after: list[int] | None = Field(default=None, max_length=50,
                                    description="earlier operations (default: the previous)")


class RoutingIn(BaseModel):
    product_id: Name
    operations: list[OperationIn] = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=1000)


@router.get("/routings")
def list_routings(conn: Conn, product_id: str | None = None) -> list:
    return routings.list_routings(conn, product_id)


@router.post("/routings", status_code=201)
def create_routing(body: RoutingIn, conn: Conn, caller: Plan) -> dict:
    """The product's next routing version."""
    specs = [routings.OperationSpec(o.seq, o.name, o.work_centre_id, o.sam_minutes, o.setup_minutes,
                                    tuple(o.after) if o.after is not None else None) for o in body.operations]
    return call(caller.write, conn, lambda r: f"routing:{r['id']}", routings.create_routing, body.product_id, specs,
                caller.user.name, body.note)  # fmt: skip


@router.get("/routings/{routing_id}")
def read_routing(routing_id: OrderId, conn: Conn) -> dict:
    return call(routings.get_routing, conn, routing_id)


class RoutedOrderIn(BaseModel):
    number: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    line_id: Name
    product_id: Name
    planned_quantity: PositiveQuantity
    due_at: AwareDatetime | None = None
    note: str = Field(default="", max_length=1000)
    routing_id: int | None = Field(default=None, ge=1, description="default: the product's newest version")


@router.get("/orders")
def list_orders(conn: Conn, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list:
    """Orders that carry a routing, newest first."""
    return operations.routed_orders(conn, limit)


@router.post("/orders", status_code=201)
def create_order(body: RoutedOrderIn, conn: Conn, caller: Plan) -> dict:
    """A work order on the product's routing, with one operation order per step."""
    return call(caller.write, conn, lambda o: f"order:{o['id']}", operations.create_routed_order, body.number,
                body.line_id, body.product_id, body.planned_quantity, caller.user.name, body.due_at, body.note,
                body.routing_id)  # fmt: skip


class CutIn(BaseModel):
    quantity: int = Field(ge=1, le=1_000_000)
    bundle_size: int = Field(default=20, ge=1, le=10_000)
    size: str = Field(default="", max_length=50)
    colour: str = Field(default="", max_length=50)
    at: AwareDatetime | None = None


@router.post("/orders/{order_id}/bundles", status_code=201)
def cut(order_id: OrderId, body: CutIn, conn: Conn, caller: Plan) -> list:
    """Cut pieces of the order into bundles with ticket codes."""
    return call(caller.write, conn, f"order:{order_id}", operations.cut_bundles, order_id, body.quantity,
                body.bundle_size, caller.user.name, body.size, body.colour, body.at)  # fmt: skip


@router.get("/orders/{order_id}/bundles")
def list_bundles(order_id: OrderId, conn: Conn) -> list:
    return operations.bundles(conn, order_id)


@router.get("/orders/{order_id}/tracking")
def tracking(order_id: OrderId, conn: Conn, at: AwareDatetime | None = None) -> dict:
    """Each operation's in, good, scrap, rework, WIP, status, rate and projected finish; the order's
    progress, bottleneck and late risk (``at``: another moment than now)."""
    return call(flow.tracking, conn, order_id, at, where="query")


class ScanIn(BaseModel):
    code: str = Field(min_length=1, max_length=200, description="the bundle ticket's barcode")
    seq: int | None = Field(default=None, ge=1, le=2**31 - 1, description="the operation (or give work_centre_id)")
    work_centre_id: str | None = Field(default=None, max_length=200)
    operator: str | None = Field(default=None, max_length=100, pattern=r"^\S(.*\S)?$")
    good: Pieces | None = Field(default=None, description="default: every piece that entered, less scrap")
    scrap: Pieces = 0
    rework: Pieces = 0
    at: AwareDatetime | None = None


@router.post("/scans")
def scan(body: ScanIn, conn: Conn, caller: Report) -> dict:
    """A bundle left an operation. The same bundle at the same operation again answers the first
    report (``duplicate``: true); a scan before the earlier operations is flagged ``out_of_sequence``;
    more good + scrap than entered is a 422 naming ``good``."""
    return call(caller.write, conn, lambda r: f"operation_report:{r['id']}", reports.record_scan, body.code,
                caller.user.name, operator=body.operator, seq=body.seq, work_centre_id=body.work_centre_id,
                scrap=body.scrap, rework=body.rework, good=body.good, at=body.at)  # fmt: skip


class BookingIn(BaseModel):
    good: Pieces
    scrap: Pieces = 0
    rework: Pieces = 0
    operator: str | None = Field(default=None, max_length=100)
    source: Literal["manual", "plc"] = "manual"
    source_key: str | None = Field(default=None, max_length=200, description="books once per key")
    at: AwareDatetime | None = None


@router.post("/operations/{operation_id}/reports", status_code=201)
def book(operation_id: OrderId, body: BookingIn, conn: Conn, caller: Report) -> dict:
    """Pieces out of an operation without a bundle; a repeated ``source_key`` books nothing (``booked``: false)."""
    made = call(caller.write, conn, f"operation:{operation_id}", reports.book_quantity, operation_id, body.good,
                caller.user.name, scrap=body.scrap, rework=body.rework, at=body.at, operator=body.operator,
                source=body.source, source_key=body.source_key)  # fmt: skip
    return {"booked": made is not None, "report": made}


class CounterIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime


@router.post("/operations/{operation_id}/counter")
def book_counter(operation_id: OrderId, body: CounterIn, conn: Conn, caller: Report) -> dict:
    """Book the work centre machine's counts in (start, end] to the operation (each bucket once)."""
    booked = call(caller.write, conn, f"operation:{operation_id}", reports.book_counter, operation_id, body.start,
                  body.end, caller.user.name)  # fmt: skip
    return {"booked": booked}


@router.get("/output")
def operator_output(conn: Conn, start: AwareDatetime, end: AwareDatetime, line_id: str | None = None,
                    detail: bool = False) -> list:  # fmt: skip
    """Per operator and shift: pieces, earned standard minutes, attended minutes, efficiency
    (``detail``: per order and operation too, for piece-rate payroll)."""
    read = output.output_detail if detail else output.operator_output
    return call(read, conn, start, end, line_id, where="query")


class AttendanceIn(BaseModel):
    operator: str = Field(min_length=1, max_length=100)
    line_id: Name
    start: AwareDatetime
    end: AwareDatetime


@router.post("/attendance", status_code=201)
def attendance(body: AttendanceIn, conn: Conn, caller: Attendance) -> dict:
    return call(caller.write, conn, lambda a: f"attendance:{a['id']}", output.record_attendance, body.operator,
                body.line_id, body.start, body.end, caller.user.name)  # fmt: skip


@router.post("/orders/{order_id}/share-links", status_code=201)
def share(order_id: OrderId, conn: Conn, caller: Plan) -> dict:
    """A read-only link to the order's tracking page (``/share/<token>``): the token is shown once."""
    return call(caller.write, conn, lambda link: f"share_link:{link['id']}", sharing.create_link, order_id,
                caller.user.name, after=sharing.without_token)  # fmt: skip


@router.get("/orders/{order_id}/share-links")
def share_links(order_id: OrderId, conn: Conn) -> list:
    return sharing.links(conn, order_id)


@router.delete("/share-links/{link_id}")
def revoke(link_id: OrderId, conn: Conn, caller: Plan) -> dict:
    """Revoke a share link: from now on it shows nothing."""
    return call(caller.write, conn, f"share_link:{link_id}", sharing.revoke_link, link_id, caller.user.name)
