"""Recipe download: an order's approved recipes written to the devices through the audited path.

Every parameter is checked — writable tag, the user's role and the tag's roles,
the tag's write limits and the recipe's own limits — *before anything is
written*; one failed check refuses the whole download and nothing is sent (each
refused parameter is still an audited attempt). Then the parameters are written
in recipe order (line recipe first, then each unit's), each read back.

**The rule for a partial failure:** the download stops at the first parameter
that is not written equal (mismatch, failed, expired); the parameters after it
are ``not_attempted``; the parameters already written stay on the devices — each
was read back equal and lies inside the tag's and the recipe's limits, so
writing old values back would be a second unverified change. The download is
``partial`` (something written) or ``failed`` (nothing written), every parameter
says which, and running the download again writes the whole recipe again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mes.auth.models import User
from mes.db import first
from mes.errors import NotFound
from mes.production.orders import find_order
from mes.recipes.recipes import approved_for_order
from mes.recipes.setpoints import Attempt, Origin, check_value, may_write, record_attempt, writable_tag, write_setpoint

ACTION = "recipes.download"


@dataclass
class ParameterResult:
    """One parameter of a download: what was planned and what happened."""

    recipe_id: int
    equipment_id: str
    tag: str
    value: float
    low: float | None
    high: float | None
    unit: str
    problem: str | None = None  # why it may not be written (found before anything is written)
    result: str = "planned"  # planned (dry run), written, mismatch, failed, expired, refused, forbidden, not_attempted
    old: Any = None
    readback: Any = None
    message: str = ""


@dataclass
class DownloadReport:
    order: str
    line_id: str
    product_id: str
    dry_run: bool
    result: str  # ready (dry run), refused, complete, partial, failed
    parameters: list[ParameterResult] = field(default_factory=list)
    download_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_download(conn: psycopg.Connection, order_number: str, user: User) -> DownloadReport:
    """The parameters an order's download would write, each with the problem that forbids it (if any)."""
    order = find_order(conn, order_number)
    recipes = approved_for_order(conn, order["line_id"], order["product_id"])
    if not recipes:
        raise NotFound(f"no approved recipe for product {order['product_id']} on line {order['line_id']} "
                       "or its units", "order")  # fmt: skip
    report = DownloadReport(order_number, order["line_id"], order["product_id"], True, "ready")
    for recipe in recipes:
        for parameter in recipe["parameters"]:
            planned = ParameterResult(recipe["id"], recipe["equipment_id"], parameter["tag"], parameter["value"],
                                      parameter["low"], parameter["high"], parameter["unit"])  # fmt: skip
            tag = writable_tag(conn, planned.tag)
            if tag is None:
                planned.problem, planned.result = f"{planned.tag} is no longer a writable tag", "refused"
            elif refusal := may_write(user, tag, ACTION):
                planned.problem, planned.result = refusal, "forbidden"
            elif problem := check_value(tag, planned.value, planned.low, planned.high):
                planned.problem, planned.result = problem, "refused"
            report.parameters.append(planned)
    if any(p.problem for p in report.parameters):
        report.result = "refused"
    return report


def download(database_url: str, user: User, order_number: str, *, dry_run: bool = False,
             trigger: str = "manual", origin: Origin | None = None) -> DownloadReport:  # fmt: skip
    """Check every parameter, then (unless ``dry_run`` or a check failed) write them in order, stopping
    at the first that is not written equal (see the module's rule). Returns the per-parameter report."""
    origin = origin or Origin()
    with psycopg.connect(database_url, autocommit=True) as conn:
        report = plan_download(conn, order_number, user)
        report.dry_run = dry_run
        if dry_run:
            return report
        order = find_order(conn, order_number)
        first_recipe = report.parameters[0].recipe_id
        report.download_id = int(conn.execute(
            "INSERT INTO recipe_downloads (recipe_id, order_id, requested_by, trigger) VALUES (%s, %s, %s, %s) "
            "RETURNING id", (first_recipe, order["id"], user.name, trigger)).fetchone()[0])  # type: ignore[index]
        if report.result == "refused":
            for planned in report.parameters:
                if planned.problem:
                    attempt = Attempt(planned.tag, planned.value, planned.result, planned.problem,
                                      context=_context(report, planned))  # fmt: skip
                    record_attempt(conn, user, attempt, origin)
                else:
                    planned.result, planned.message = "not_attempted", "another parameter was refused"
        else:
            _write_all(database_url, user, report, origin)
        _finish(conn, report)
    return report


def _write_all(database_url: str, user: User, report: DownloadReport, origin: Origin) -> None:
    stopped = False
    for planned in report.parameters:
        if stopped:
            planned.result, planned.message = "not_attempted", "the download stopped at an earlier parameter"
            continue
        attempt = write_setpoint(database_url, user, planned.tag, planned.value, origin, _context(report, planned),
                                 ACTION, (planned.low, planned.high))  # fmt: skip
        planned.result, planned.old, planned.readback, planned.message = (
            attempt.result, attempt.old, attempt.readback, attempt.message)
        stopped = not attempt.ok
    written = sum(1 for p in report.parameters if p.result == "written")
    if written == len(report.parameters):
        report.result = "complete"
    else:
        report.result = "partial" if written else "failed"


def _context(report: DownloadReport, planned: ParameterResult) -> dict[str, Any]:
    return {"order": report.order, "recipe": planned.recipe_id, "download": report.download_id}


def _finish(conn: psycopg.Connection, report: DownloadReport) -> None:
    conn.execute("UPDATE recipe_downloads SET finished_at = now(), result = %s, parameters = %s WHERE id = %s",
                 (report.result, Jsonb([asdict(p) for p in report.parameters]), report.download_id))  # fmt: skip


def last_download(conn: psycopg.Connection, line_id: str) -> dict[str, Any] | None:
    """The newest finished download of an order on ``line_id``, with its parameters."""
    return first(
        conn,
        "SELECT d.id, d.order_id, o.number AS order_number, d.requested_by, d.trigger, d.started_at, d.finished_at, "
        "d.result, d.parameters FROM recipe_downloads d JOIN work_orders o ON o.id = d.order_id "
        "WHERE o.line_id = %s AND d.finished_at IS NOT NULL ORDER BY d.id DESC LIMIT 1",
        (line_id,),
    )
