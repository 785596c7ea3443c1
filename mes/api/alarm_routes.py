"""Alarms, andon calls and maintenance under ``/api/alarms``, ``/api/andon`` and ``/api/maintenance``.

Reads need a signed-in user; every write names its action (``alarms.acknowledge``, ``alarms.shelve``,
``alarms.service``, ``alarms.close``, ``andon.call``, ``maintenance.orders``) and records its audit row in
the write's own transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, Field

from mes.alarms import andon, dispatch, kpi, maintenance, store
from mes.api.auth import AuditedWrite, audited
from mes.api.deps import Conn, call

router = APIRouter(tags=["alarms"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Text = Field(default="", max_length=1000)


def _now() -> datetime:
    return datetime.now(UTC)


def _period(since: datetime | None, until: datetime | None, days: float = 1.0) -> tuple[datetime, datetime]:
    until = until or _now()
    return since or until - timedelta(days=days), until


# --------------------------------------------------------------------------- alarms


@router.get("/api/alarms")
def active(conn: Conn, area: str | None = None) -> list:
    """Open alarms (shown and hidden), most urgent and oldest first."""
    return store.active_alarms(conn, area)


@router.get("/api/alarms/history")
def history(conn: Conn, since: AwareDatetime | None = None, until: AwareDatetime | None = None,
            limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list:  # fmt: skip
    """Alarms raised in the period (default: the last 24 h), newest first."""
    start, end = _period(since, until)
    return store.history(conn, start, end, limit)


@router.get("/api/alarms/kpi")
def alarm_kpis(conn: Conn, since: AwareDatetime | None = None, until: AwareDatetime | None = None) -> list:
    """EEMUA 191 / ISA-18.2 figures per area and for the plant (default: the last 24 h)."""
    start, end = _period(since, until)
    return call(kpi.alarm_kpis, conn, start, end, where="query")


@router.get("/api/alarms/points")
def points(conn: Conn) -> list:
    """Every alarm point (rule × tag) with its mode (in service, shelved until, suppressed, out of service)."""
    return store.points(conn)


@router.get("/api/alarms/notifications")
def notifications(conn: Conn, status: Literal["pending", "sent", "failed"] | None = None,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list:  # fmt: skip
    """Notices sent, waiting or failed (with attempts and the last error), newest first."""
    return dispatch.notifications(conn, status, limit)


@router.get("/api/alarms/{occurrence_id}")
def one(occurrence_id: Id, conn: Conn) -> dict:
    """One alarm with every transition (time, user, comment)."""
    return {**call(store.occurrence, conn, occurrence_id), "events": store.events(conn, occurrence_id)}


class Comment(BaseModel):
    comment: str = Text


class Closure(BaseModel):
    cause: str = Field(min_length=1, max_length=1000)
    action: str = Field(min_length=1, max_length=1000)


Acknowledge = Annotated[AuditedWrite, Depends(audited("alarms.acknowledge"))]
Shelve = Annotated[AuditedWrite, Depends(audited("alarms.shelve"))]
Service = Annotated[AuditedWrite, Depends(audited("alarms.service"))]
Close = Annotated[AuditedWrite, Depends(audited("alarms.close"))]


@router.post("/api/alarms/{occurrence_id}/acknowledge")
def acknowledge(occurrence_id: Id, conn: Conn, caller: Acknowledge, body: Comment | None = None) -> dict:
    return call(caller.write, conn, f"alarm:{occurrence_id}", store.acknowledge, occurrence_id, caller.user.name,
                _now(), (body or Comment()).comment)  # fmt: skip


@router.post("/api/alarms/{occurrence_id}/reset")
def reset(occurrence_id: Id, conn: Conn, caller: Acknowledge, body: Comment | None = None) -> dict:
    return call(caller.write, conn, f"alarm:{occurrence_id}", store.reset, occurrence_id, caller.user.name,
                _now(), (body or Comment()).comment)  # fmt: skip


@router.post("/api/alarms/{occurrence_id}/close")
def close(occurrence_id: Id, body: Closure, conn: Conn, caller: Close) -> dict:
    """Close a finished alarm: its cause and the action taken are both required."""
    return call(caller.write, conn, f"alarm:{occurrence_id}", store.close, occurrence_id, caller.user.name,
                _now(), body.cause, body.action)  # fmt: skip


class ShelveIn(BaseModel):
    minutes: float = Field(gt=0, le=7 * 24 * 60, description="how long (the shelving then expires)")
    comment: str = Field(min_length=1, max_length=1000)


class ServiceIn(BaseModel):
    comment: str = Field(min_length=1, max_length=1000)


@router.post("/api/alarms/points/{point_id}/shelve")
def shelve(point_id: Id, body: ShelveIn, conn: Conn, caller: Shelve) -> dict:
    at = _now()
    return call(caller.write, conn, f"alarm_point:{point_id}", store.shelve, point_id, caller.user.name, at,
                at + timedelta(minutes=body.minutes), body.comment)  # fmt: skip


@router.post("/api/alarms/points/{point_id}/unshelve")
def unshelve(point_id: Id, conn: Conn, caller: Shelve, body: Comment | None = None) -> dict:
    return call(caller.write, conn, f"alarm_point:{point_id}", store.unshelve, point_id, caller.user.name, _now(),
                (body or Comment()).comment)  # fmt: skip


@router.post("/api/alarms/points/{point_id}/out-of-service")
def out_of_service(point_id: Id, body: ServiceIn, conn: Conn, caller: Service) -> dict:
    return call(caller.write, conn, f"alarm_point:{point_id}", store.remove_from_service, point_id,
                caller.user.name, _now(), body.comment)  # fmt: skip


@router.post("/api/alarms/points/{point_id}/return-to-service")
def return_to_service(point_id: Id, conn: Conn, caller: Service, body: Comment | None = None) -> dict:
    return call(caller.write, conn, f"alarm_point:{point_id}", store.return_to_service, point_id,
                caller.user.name, _now(), (body or Comment()).comment)  # fmt: skip


# --------------------------------------------------------------------------- andon

AndonCall = Annotated[AuditedWrite, Depends(audited("andon.call"))]


class CallIn(BaseModel):
    line_id: str = Field(min_length=1, max_length=200)
    kind: Literal["material", "maintenance", "quality", "process", "custom"]
    label: str = Field(default="", max_length=200)
    note: str = Text


class Resolution(BaseModel):
    resolution: str = Field(min_length=1, max_length=1000)


@router.get("/api/andon/calls")
def andon_calls(conn: Conn, line_id: str | None = None, open_only: bool = True, since: AwareDatetime | None = None,
                until: AwareDatetime | None = None) -> list:  # fmt: skip
    """Open calls (default), or every call of a period with its times to acknowledge and resolve."""
    if open_only:
        return andon.open_calls(conn, line_id)
    start, end = _period(since, until, days=7)
    return andon.calls(conn, start, end, line_id)


@router.post("/api/andon/calls", status_code=201)
def raise_call(body: CallIn, conn: Conn, caller: AndonCall) -> dict:
    return call(caller.write, conn, lambda c: f"andon:{c['id']}", andon.raise_call, body.line_id, body.kind,
                caller.user.name, _now(), body.label, body.note)  # fmt: skip


@router.post("/api/andon/calls/{call_id}/acknowledge")
def acknowledge_call(call_id: Id, conn: Conn, caller: AndonCall) -> dict:
    return call(caller.write, conn, f"andon:{call_id}", andon.acknowledge_call, call_id, caller.user.name, _now())


@router.post("/api/andon/calls/{call_id}/resolve")
def resolve_call(call_id: Id, body: Resolution, conn: Conn, caller: AndonCall) -> dict:
    return call(caller.write, conn, f"andon:{call_id}", andon.resolve_call, call_id, caller.user.name, _now(),
                body.resolution)  # fmt: skip


# --------------------------------------------------------------------------- maintenance

Orders = Annotated[AuditedWrite, Depends(audited("maintenance.orders"))]


class OrderIn(BaseModel):
    asset: str = Field(min_length=1, max_length=200)
    kind: Literal["predictive", "breakdown", "preventive"]
    reason: str = Field(min_length=1, max_length=1000)
    occurrence_id: int | None = Field(default=None, ge=1, description="the alarm it answers")


class OrderClose(BaseModel):
    repair: str = Field(min_length=1, max_length=2000)
    started_at: AwareDatetime | None = None
    failure: bool = False


@router.get("/api/maintenance/orders")
def maintenance_orders(conn: Conn, asset: str | None = None, open_only: bool = False) -> list:
    return maintenance.orders(conn, asset, open_only)


@router.post("/api/maintenance/orders", status_code=201)
def open_order(body: OrderIn, conn: Conn, caller: Orders) -> dict:
    return call(caller.write, conn, lambda o: f"maintenance_order:{o['id']}", maintenance.open_order, body.asset,
                body.kind, body.reason, caller.user.name, _now(), body.occurrence_id)  # fmt: skip


@router.post("/api/maintenance/orders/{order_id}/close")
def close_order(order_id: Id, body: OrderClose, conn: Conn, caller: Orders) -> dict:
    return call(caller.write, conn, f"maintenance_order:{order_id}", maintenance.close_order, order_id,
                caller.user.name, _now(), body.repair, body.started_at, body.failure)  # fmt: skip


@router.get("/api/maintenance/forecasts")
def forecasts(conn: Conn, asset: str | None = None, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list:
    """Condition monitoring forecasts (zone, model, time to zones C and D), newest first."""
    return maintenance.forecasts(conn, asset, limit)


@router.get("/api/maintenance/reliability")
def reliability(conn: Conn, asset: str, equipment: str | None = None, since: AwareDatetime | None = None,
                until: AwareDatetime | None = None) -> dict:  # fmt: skip
    """MTBF and MTTR of an asset (default: the last 90 days); ``equipment`` adds its fault stops."""
    start, end = _period(since, until, days=90)
    return maintenance.reliability(conn, asset, equipment, start, end).__dict__
