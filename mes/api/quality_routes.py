"""REST routes of the quality module, under ``/api/quality``.

Thin on purpose: each route validates its input with the domain's pydantic
models and calls one function of :mod:`mes.quality`. Writes record the
signed-in user and its one audit row (:func:`mes.auth.deps.audited`); approvals —
dispositions, closing, freezing SPC limits, skipping an inspection — need the
``quality.disposition`` action. Domain errors become
HTTP errors here — bad input 422, unknown record 404, a status change that is
not allowed 409 — with the message as ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, Field

from mes import errors as mes_errors
from mes.api.auth import AuditedWrite, audited
from mes.bounds import MAX_INT4, MAX_INT8, Measurement, Quantity
from mes.quality import events, genealogy, inspections, nonconformances, process_checks, spc, specs, summary
from mes.quality.capability import capability as compute_capability
from mes.quality.models import QualityInput

router = APIRouter(prefix="/api/quality", tags=["quality"])
T = TypeVar("T")
Id = Annotated[int, Path(ge=1, le=MAX_INT4)]
BigId = Annotated[int, Path(ge=1, le=MAX_INT8)]
OrderQuery = Annotated[int | None, Query(ge=1, le=MAX_INT8, description="work order id")]


def quality_connection(request: Request) -> Iterator[psycopg.Connection]:
    """An autocommit connection for one request (the app's ``database_url``); overridable in the app."""
    url = getattr(request.app.state, "database_url", None)
    if url is None:
        raise HTTPException(503, "the API has no database configured")
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(quality_connection)]


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a domain function; its errors become HTTP errors with the message as detail."""
    try:
        return fn(*args, **kwargs)
    except mes_errors.NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except mes_errors.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except mes_errors.MesError as exc:
        raise HTTPException(422, str(exc)) from exc
    except psycopg.errors.ForeignKeyViolation as exc:
        raise HTTPException(422, f"a referenced record does not exist: {exc.diag.message_detail}") from exc
    except psycopg.errors.CheckViolation as exc:
        raise HTTPException(422, f"value not allowed: {exc.diag.constraint_name}") from exc
    except psycopg.DataError as exc:  # a number out of the column's range, a NUL byte in a text, ...
        raise HTTPException(422, f"value not storable: {str(exc).splitlines()[0]}") from exc


Plan = Annotated[AuditedWrite, Depends(audited("quality.plan"))]
Inspect = Annotated[AuditedWrite, Depends(audited("quality.inspect"))]
Approve = Annotated[AuditedWrite, Depends(audited("quality.disposition"))]


def _id(kind: str) -> Callable[[dict], str]:
    """The audit object of a created record: ``kind:<its id>``."""
    return lambda record: f"{kind}:{record.get('id', '')}"


# --------------------------------------------------------------------------- specs


@router.post("/specs", status_code=201)
def create_spec(body: specs.SpecIn, conn: Conn, caller: Plan) -> dict:
    """Add a specification (replaces the active one for the same product, line and characteristic)."""
    spec = body.model_copy(update={"created_by": caller.user.name})
    return call(caller.write, conn, _id("spec"), specs.create_spec, spec)


@router.get("/specs")
def list_specs(conn: Conn, product_id: str | None = None) -> list[dict]:
    return call(specs.list_specs, conn, product_id)


@router.get("/specs/{spec_id}")
def get_spec(spec_id: Id, conn: Conn) -> dict:
    return call(specs.get_spec, conn, spec_id)


@router.get("/specs/{spec_id}/capability")
def spec_capability(
    spec_id: Id, conn: Conn, start: AwareDatetime | None = None, end: AwareDatetime | None = None,
    estimator: Literal["rbar_d2", "sbar_c4", "mrbar_d2"] | None = None,
) -> dict:  # fmt: skip
    """Cp, Cpk, Pp, Ppk of the spec's inspection measurements, with the σ estimator named."""
    return call(spc.spec_capability, conn, spec_id, start, end, estimator)


class CapabilityIn(QualityInput):
    lsl: Measurement | None = None
    usl: Measurement | None = None
    subgroups: list[list[Measurement]] | None = Field(default=None, max_length=10_000)
    values: list[Measurement] | None = Field(default=None, max_length=100_000)
    estimator: Literal["rbar_d2", "sbar_c4", "mrbar_d2"] | None = None


@router.post("/capability")
def capability(body: CapabilityIn) -> dict:
    """Capability of data given in the request (nothing stored)."""
    result = call(compute_capability, body.lsl, body.usl, subgroups=body.subgroups, values=body.values,
                  estimator=body.estimator)
    return result.__dict__ | {"capable": result.capable}


# --------------------------------------------------------------------------- inspections


@router.post("/plans", status_code=201)
def create_plan(body: inspections.PlanIn, conn: Conn, caller: Plan) -> dict:
    return call(caller.write, conn, _id("inspection-plan"), inspections.create_plan, body)


@router.get("/plans")
def list_plans(conn: Conn) -> list[dict]:
    return call(inspections.list_plans, conn)


@router.post("/inspections/schedule")
def schedule(conn: Conn, caller: Plan, now: AwareDatetime | None = None) -> list[dict]:
    """Create the due inspections the plans ask for up to ``now``."""
    return call(caller.write, conn, "inspections/due", inspections.schedule_due, now or datetime.now(UTC))


@router.get("/inspections/due")
def due(conn: Conn, line_id: str | None = None, now: AwareDatetime | None = None) -> list[dict]:
    """The line's to-do list: open due inspections, each flagged ``overdue`` past its grace time."""
    return call(inspections.todo, conn, line_id, now or datetime.now(UTC))


class SkipIn(QualityInput):
    why: str = Field(min_length=1, max_length=500)


@router.post("/inspections/due/{due_id}/skip")
def skip(due_id: Id, body: SkipIn, conn: Conn, caller: Approve) -> dict:
    return call(caller.write, conn, f"inspection-due:{due_id}", inspections.skip_due, due_id, caller.user.name,
                body.why)


@router.post("/inspections", status_code=201)
def record_inspection(body: inspections.RecordIn, conn: Conn, caller: Inspect) -> dict:
    """Record an inspection (inspector: the signed-in user unless given); values out of spec open a
    nonconformance (its id is returned)."""
    record = body.model_copy(update={"inspector": body.inspector or caller.user.name})
    return call(caller.write, conn, _id("inspection"), inspections.record_inspection, record)


@router.get("/inspections")
def list_inspections(conn: Conn, spec_id: Annotated[int | None, Query(ge=1, le=MAX_INT4)] = None,
                     limit: int = Query(200, ge=1, le=5000)) -> list[dict]:
    return call(inspections.list_records, conn, spec_id, limit)


# --------------------------------------------------------------------------- process checks


@router.post("/process-checks/run")
def run_process_checks(conn: Conn, caller: Plan, now: AwareDatetime | None = None) -> list[dict]:
    """Check bound tags of the orders that ran against their process limits; returns excursions touched."""
    return call(caller.write, conn, "process-checks", process_checks.run_process_checks, now)


@router.get("/excursions")
def list_excursions(conn: Conn, line_id: str | None = None, work_order_id: OrderQuery = None) -> list[dict]:
    return call(process_checks.list_excursions, conn, line_id=line_id, work_order_id=work_order_id)


# --------------------------------------------------------------------------- SPC


@router.post("/spc/charts", status_code=201)
def create_chart(body: spc.ChartIn, conn: Conn, caller: Plan) -> dict:
    return call(caller.write, conn, _id("spc-chart"), spc.create_chart, body)


@router.get("/spc/charts")
def list_charts(conn: Conn) -> list[dict]:
    return call(spc.list_charts, conn)


@router.get("/spc/charts/{chart_id}")
def get_chart(chart_id: Id, conn: Conn) -> dict:
    return call(spc.get_chart, conn, chart_id)


class PhaseOneIn(QualityInput):
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    exclude: list[Annotated[int, Field(ge=0, le=MAX_INT4)]] = Field(
        default_factory=list, max_length=10_000, description="0-based subgroups with an assignable cause")


@router.post("/spc/charts/{chart_id}/phase-one")
def phase_one(chart_id: Id, body: PhaseOneIn, conn: Conn, caller: Plan) -> dict:
    """Compute trial (Phase I) limits from the data in [start, end)."""
    return call(caller.write, conn, f"spc-chart:{chart_id}", spc.compute_phase_one, chart_id, body.start, body.end,
                body.exclude, before=lambda: spc.get_chart(conn, chart_id))


class NoteIn(QualityInput):
    note: str = Field(default="", max_length=1000)


@router.post("/spc/charts/{chart_id}/freeze")
def freeze(chart_id: Id, body: NoteIn, conn: Conn, caller: Approve) -> dict:
    """Freeze the Phase I limits (approved by the signed-in user): new points are judged against them."""
    return call(caller.write, conn, f"spc-chart:{chart_id}", spc.freeze, chart_id, caller.user.name,
                before=lambda: spc.get_chart(conn, chart_id))


@router.post("/spc/charts/{chart_id}/unfreeze")
def unfreeze(chart_id: Id, body: NoteIn, conn: Conn, caller: Approve) -> dict:
    return call(caller.write, conn, f"spc-chart:{chart_id}", spc.unfreeze, chart_id, caller.user.name,
                before=lambda: spc.get_chart(conn, chart_id))


@router.post("/spc/charts/{chart_id}/evaluate")
def evaluate(chart_id: Id, conn: Conn, caller: Plan, until: AwareDatetime | None = None) -> dict:
    """Judge Phase II points against the frozen limits; new rule violations become quality events."""
    return call(caller.write, conn, f"spc-chart:{chart_id}", spc.evaluate, chart_id, until)


@router.get("/spc/charts/{chart_id}/violations")
def violations(chart_id: Id, conn: Conn) -> list[dict]:
    call(spc.get_chart, conn, chart_id)
    return call(spc.list_violations, conn, chart_id)


# --------------------------------------------------------------------------- nonconformances


@router.post("/nonconformances", status_code=201)
def create_nonconformance(body: nonconformances.NonconformanceIn, conn: Conn, caller: Inspect) -> dict:
    update = {"reported_by": body.reported_by or caller.user.name}
    return call(caller.write, conn, _id("nonconformance"), nonconformances.create_nonconformance,
                body.model_copy(update=update))


@router.get("/nonconformances")
def list_nonconformances(
    conn: Conn, status: Literal["open", "dispositioned", "closed"] | None = None,
    work_order_id: OrderQuery = None, line_id: str | None = None,
) -> list[dict]:  # fmt: skip
    return call(nonconformances.list_nonconformances, conn, status=status, work_order_id=work_order_id,
                line_id=line_id)


@router.get("/nonconformances/{nc_id}")
def get_nonconformance(nc_id: BigId, conn: Conn) -> dict:
    return call(nonconformances.get_nonconformance, conn, nc_id)


@router.post("/nonconformances/{nc_id}/dispositions")
def disposition(nc_id: BigId, body: nonconformances.DispositionIn, conn: Conn, caller: Approve) -> dict:
    """Scrap, rework, use as is or return to supplier (part of) the quantity, approved by the signed-in
    user; scrap and rework reach the order's counts and KPIs."""
    decision = body.model_copy(update={"approved_by": caller.user.name})
    return call(caller.write, conn, f"nonconformance:{nc_id}", nonconformances.disposition, nc_id, decision,
                before=lambda: nonconformances.get_nonconformance(conn, nc_id))


@router.post("/nonconformances/{nc_id}/close")
def close_nonconformance(nc_id: BigId, body: NoteIn, conn: Conn, caller: Approve) -> dict:
    return call(caller.write, conn, f"nonconformance:{nc_id}", nonconformances.close, nc_id, caller.user.name,
                body.note, before=lambda: nonconformances.get_nonconformance(conn, nc_id))


# --------------------------------------------------------------------------- lots


@router.post("/lots", status_code=201)
def create_lot(body: genealogy.LotIn, conn: Conn, caller: Inspect) -> dict:
    return call(caller.write, conn, f"lot:{body.code}", genealogy.create_lot,
                body.model_copy(update={"created_by": caller.user.name}))


@router.get("/lots/{code}")
def get_lot(code: str, conn: Conn) -> dict:
    return call(genealogy.get_lot, conn, code)


class ConsumeIn(QualityInput):
    into: str = Field(min_length=1, description="the lot it went into")
    quantity: Quantity | None = None


@router.post("/lots/{code}/consume", status_code=201)
def consume(code: str, body: ConsumeIn, conn: Conn, caller: Inspect) -> dict:
    return call(caller.write, conn, f"lot:{code}", genealogy.consume, code, body.into, body.quantity,
                by=caller.user.name)


class SplitIn(QualityInput):
    parts: list[genealogy.SplitPart] = Field(min_length=1, max_length=1000)


@router.post("/lots/{code}/split", status_code=201)
def split(code: str, body: SplitIn, conn: Conn, caller: Inspect) -> list[dict]:
    return call(caller.write, conn, f"lot:{code}", genealogy.split, code, body.parts, by=caller.user.name,
                before=lambda: genealogy.get_lot(conn, code))


class MergeIn(QualityInput):
    sources: list[str] = Field(min_length=2, max_length=1000)
    into: genealogy.LotIn


@router.post("/lots/merge", status_code=201)
def merge(body: MergeIn, conn: Conn, caller: Inspect) -> dict:
    into = body.into.model_copy(update={"created_by": caller.user.name})
    return call(caller.write, conn, f"lot:{body.into.code}", genealogy.merge, body.sources, into,
                by=caller.user.name)


@router.get("/lots/{code}/trace")
def trace(code: str, conn: Conn, direction: Literal["forward", "backward"] = "backward") -> dict:
    """Forward: every lot made from this one. Backward: everything that went into it, with the process
    values and excursions recorded while each lot was made."""
    return call(genealogy.trace, conn, code, direction)


# --------------------------------------------------------------------------- events, orders


@router.get("/events")
def list_events(conn: Conn, after_id: int = Query(0, ge=0, le=MAX_INT8),
                limit: int = Query(500, ge=1, le=5000)) -> list[dict]:
    """Quality events (SPC violations, excursions, nonconformances, overdue inspections) after ``after_id``."""
    return call(events.events_since, conn, after_id, limit)


@router.get("/orders/{work_order_id}")
def order_quality(work_order_id: BigId, conn: Conn) -> dict:
    """PQ/GQ/SQ/RQ from the KPI SQL, first pass yield, nonconformances and excursions of one order."""
    return call(summary.order_quality, conn, work_order_id)
