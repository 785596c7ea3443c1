"""Reports and energy under ``/api``: stored reports (list, download), making one, signing a
period off; energy split, per-shift figures and the baseline of a line."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from mes.api.auth import AuditedWrite, audited
from mes.api.deps import Conn, call
from mes.api.production_routes import From, To, UnitId, _window
from mes.energy import deviations, energy_by, energy_split, fit_baseline, latest_baseline
from mes.reports import service, store
from mes.reports.generate import MEDIA

router = APIRouter(prefix="/api", tags=["reports", "energy"])
ReportId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Generate = Annotated[AuditedWrite, Depends(audited("reports.generate"))]
SignOff = Annotated[AuditedWrite, Depends(audited("reports.sign_off"))]
Baseline = Annotated[AuditedWrite, Depends(audited("energy.baseline"))]
Kind = Literal["shift", "day", "week", "month"]


class PeriodIn(BaseModel):
    kind: Kind
    day: date | None = Field(default=None, alias="date",
                             description="a plant-local day in the period (default: the last closed)")
    shift: str | None = Field(default=None, max_length=60, description="with kind=shift: the shift's name")


class ReportIn(PeriodIn):
    format: Literal["pdf", "xlsx"] = "pdf"
    lang: Literal["zh-CN", "en"] = "zh-CN"


class SignOffIn(PeriodIn):
    note: str = Field(default="", max_length=2000)


@router.get("/reports")
def reports(conn: Conn, line: Annotated[str | None, Query(max_length=200)] = None) -> list:
    """Stored reports (scheduled and made by hand), newest period first, without their files."""
    return store.list_reports(conn, line)


@router.get("/reports/{report_id}/file")
def report_file(report_id: ReportId, conn: Conn) -> Response:
    """The stored PDF or XLSX."""
    report = call(store.get_report, conn, report_id)
    name = f"{report['line_id']}-{report['kind']}-{report['label'].replace(' ', '-')}-{report['language']}"
    return Response(bytes(report["content"]), media_type=MEDIA[report["format"]],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{report["format"]}"'})  # fmt: skip


@router.post("/lines/{line_id}/reports", status_code=201)
def make_report(line_id: UnitId, body: ReportIn, conn: Conn, caller: Generate) -> dict:
    """Make a report of the line's shift, day, week or month and keep it."""
    return call(caller.write, conn, lambda made: f"report:{made['id']}", service.generate, line_id, body.kind,
                body.day, body.shift, body.format, body.lang, caller.user.name,
                after=lambda made: {k: made[k] for k in ("id", "period_key", "format", "language")})  # fmt: skip


@router.post("/plant/reports", status_code=201)
def make_plant_report(body: ReportIn, conn: Conn, caller: Generate) -> dict:
    """Make a report of the whole plant's shift, day, week or month (every line, summed) and keep it."""
    return call(caller.write, conn, lambda made: f"report:{made['id']}", service.generate, None, body.kind,
                body.day, body.shift, body.format, body.lang, caller.user.name,
                after=lambda made: {k: made[k] for k in ("id", "period_key", "format", "language")})  # fmt: skip


@router.get("/plant/report")
def plant_report(conn: Conn, kind: Kind, day: Annotated[date | None, Query(alias="date")] = None,
                 shift: Annotated[str | None, Query(max_length=60)] = None) -> dict:
    """The plant report's figures (what its PDF and XLSX show), as JSON: ISO 22400 sums over the lines."""
    return call(service.plant_summary, conn, kind, day, shift, where="query")


@router.post("/lines/{line_id}/sign-off", status_code=201)
def sign_off(line_id: UnitId, body: SignOffIn, conn: Conn, caller: SignOff) -> dict:
    """Sign the line's shift, day, week or month off (once)."""
    return call(caller.write, conn, lambda signed: f"sign-off:{signed['period_key']}", service.sign_period_off,
                line_id, body.kind, body.day, body.shift, caller.user.name, body.note)  # fmt: skip


@router.get("/lines/{line_id}/energy")
def energy(line_id: UnitId, start: From, end: To, conn: Conn,
           by: Literal["period", "shift", "order", "product"] = "period") -> dict:  # fmt: skip
    """kWh by time element (what was used while nothing was produced), kWh per unit and per good unit
    for the period or each shift, order or product, and each shift's deviation from the baseline."""
    _window(start, end)
    split = call(energy_split, conn, line_id, start, end, where="query")
    baseline = latest_baseline(conn, line_id)
    return {**split, "rows": energy_by(conn, line_id, start, end, by), "baseline": baseline,
            "deviations": deviations(conn, line_id, start, end) if baseline else []}  # fmt: skip


class BaselineIn(BaseModel):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


@router.post("/lines/{line_id}/energy/baseline", status_code=201)
def baseline(line_id: UnitId, body: BaselineIn, conn: Conn, caller: Baseline) -> dict:
    """Fit the line's energy baseline (kWh = a + b x produced units) on the shifts of a period."""
    _window(body.start, body.end)
    return call(caller.write, conn, lambda fitted: f"line:{line_id}/energy-baseline:{fitted['id']}", fit_baseline,
                line_id, body.start, body.end, caller.user.name)  # fmt: skip
