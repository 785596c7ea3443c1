"""``linebrain trace`` and ``linebrain quality``: lot genealogy, nonconformances, checks, SPC, capability."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, cli_actor, console, err_console

T = TypeVar("T")

quality_app = typer.Typer(
    help="Quality: process checks, due inspections, nonconformances, SPC and capability.\n\n"
    "Examples:\n\n  linebrain quality check\n\n  linebrain quality ncs --status open\n\n"
    "  linebrain quality disposition 12 scrap 20 --approved-by qa-lead\n\n  linebrain quality capability 3",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _connection(url: str | None, data_dir) -> Iterator[Any]:
    import psycopg

    from mes.cli.common import migrated_database_url

    with psycopg.connect(migrated_database_url(url, data_dir), autocommit=True) as conn:
        yield conn


def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a domain function; a LineBrain error is printed and exits 2 (bad input) or 1 (not found, conflict)."""
    from mes import errors

    try:
        return fn(*args, **kwargs)
    except errors.InvalidInput as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except errors.MesError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


def _audited(conn: Any, actor: str, action: str, nc_id: int, route: str, change: Callable[..., dict[str, Any]],
             *args: Any) -> dict[str, Any]:  # fmt: skip
    """Change a nonconformance and record the audit row in the caller's transaction."""
    from mes.auth import audit
    from mes.quality.nonconformances import get_nonconformance

    before = get_nonconformance(conn, nc_id)
    after = change(conn, nc_id, *args)
    audit.record(conn, actor, action, f"nonconformance:{nc_id}", before, after, route=route)
    return after


def _dump(data: Any) -> None:
    print(json.dumps(data, default=str, indent=2))


def trace(
    lot: Annotated[str, typer.Argument(help="Lot code.", show_default=False)],
    forward: Annotated[bool, typer.Option("--forward", help="Lots made from LOT (recall).")] = False,
    backward: Annotated[bool, typer.Option("--backward", help="What went into LOT (default).")] = False,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Trace a lot's genealogy. Backward (default) lists every lot that went into LOT, with the
    excursions and process values recorded while each was made; --forward lists every lot made from it.

    Examples: linebrain trace S-100 --forward; linebrain trace F-2026-0042 --json
    """
    from mes.quality.genealogy import trace as trace_lot

    if forward and backward:
        err_console.print("error: choose --forward or --backward, not both")
        raise typer.Exit(2)
    direction = "forward" if forward else "backward"
    with _connection(database_url, data_dir) as conn:
        result = _run(trace_lot, conn, lot, direction)
    if as_json:
        _dump(result)
        return
    table = Table(title=f"{direction} trace of {lot}: {len(result['lots'])} lots")
    for column in ("depth", "lot", "via", "kind", "product", "order", "qty", "made", "excursions"):
        table.add_column(column)
    for item in result["lots"]:
        made = f"{item['started_at']:%Y-%m-%d %H:%M}" if item["started_at"] else ""
        excursions = "; ".join(
            f"{e['characteristic']} {e['direction']} worst {e['worst_value']:g} at {e['start_time']:%H:%M}"
            for e in item.get("excursions", [])
        )
        table.add_row(str(item["depth"]), item["code"], item["via"] or "", item["kind"], item["product"],
                      str(item["work_order_id"] or ""), f"{item['quantity']:g}", made, excursions)
    console.print(table)
    for item in result["lots"]:
        for value in item.get("process_values", []):
            if value["samples"]:
                console.print(f"  {item['code']}: {value['characteristic']} ({value['tag']}) min {value['min']:g} "
                              f"avg {value['avg']:.4g} max {value['max']:g} {value['unit']}", markup=False)


@quality_app.command("check")
def check(
    now: Annotated[datetime | None, typer.Option(help="Judge data up to this time, UTC (default: now).")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """One pass of the automatic checks: process limits of the orders that ran, due inspections (automatic
    ones taken from their tags), overdue flags, frozen SPC charts.

    Example: linebrain quality check
    """
    from mes.quality.jobs import run_quality_checks

    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:  # typer parses naive times: read them as UTC, like everything stored
        moment = moment.replace(tzinfo=UTC)
    with _connection(database_url, data_dir) as conn:
        report = _run(run_quality_checks, conn, moment)
    console.print(f"excursions touched: {report.excursions}, inspections now due: {report.due_created} "
                  f"({report.taken_from_tags} taken from tags, {report.overdue} overdue), "
                  f"SPC violations on frozen charts: {report.spc_violations}")
    for error in report.errors:
        err_console.print(f"error: {error}", markup=False)
    if report.errors:
        raise typer.Exit(1)


@quality_app.command("ncs")
def list_ncs(
    status: Annotated[str | None, typer.Option(help="open, dispositioned or closed.")] = None,
    order: Annotated[int | None, typer.Option(help="Work order id.")] = None,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List nonconformances, newest first. Example: linebrain quality ncs --status open"""
    from mes.quality.nonconformances import list_nonconformances

    with _connection(database_url, data_dir) as conn:
        found = _run(list_nonconformances, conn, status=status, work_order_id=order)
    if as_json:
        _dump(found)
        return
    table = Table(title=f"{len(found)} nonconformances")
    for column in ("id", "status", "qty", "order", "lot", "line", "defect", "description"):
        table.add_column(column)
    for nc in found:
        table.add_row(str(nc["id"]), nc["status"], f"{nc['quantity']:g}", str(nc["work_order_id"] or ""),
                      nc["lot_code"] or "", nc["line_id"] or "", nc["defect_code"] or "", nc["description"])
    console.print(table)


@quality_app.command("disposition")
def disposition_nc(
    nc_id: Annotated[int, typer.Argument(help="Nonconformance id.", show_default=False)],
    decision: Annotated[str, typer.Argument(help="scrap, rework, use_as_is, return_to_supplier.", show_default=False)],
    quantity: Annotated[float, typer.Argument(help="How many units.", show_default=False)],
    approved_by: Annotated[str, typer.Option(help="Who approved it.", show_default=False)],
    note: str = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Disposition (part of) a nonconformance; scrap and rework are booked into the order's counts.

    Example: linebrain quality disposition 12 scrap 20 --approved-by qa-lead
    """
    from pydantic import ValidationError

    from mes.quality.nonconformances import DispositionIn, disposition

    try:
        body = DispositionIn.model_validate({"disposition": decision, "quantity": quantity,
                                             "approved_by": approved_by, "note": note})
    except ValidationError as exc:
        err_console.print(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}", markup=False)
        raise typer.Exit(2) from None
    with _connection(database_url, data_dir) as conn, conn.transaction():
        nc = _run(_audited, conn, cli_actor(approved_by), "quality.disposition", nc_id, "cli: quality disposition",
                  disposition, body)  # fmt: skip
    console.print(f"nonconformance {nc_id}: {decision} {quantity:g}, now {nc['status']}")


@quality_app.command("close")
def close_nc(
    nc_id: Annotated[int, typer.Argument(help="Nonconformance id.", show_default=False)],
    by: Annotated[str, typer.Option(help="Who closes it.", show_default=False)],
    note: str = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Close a fully dispositioned nonconformance. Example: linebrain quality close 12 --by qa-lead"""
    from mes.quality.nonconformances import close

    with _connection(database_url, data_dir) as conn, conn.transaction():
        _run(_audited, conn, cli_actor(by), "quality.disposition", nc_id, "cli: quality close", close, by, note)
    console.print(f"nonconformance {nc_id} closed")


@quality_app.command("due")
def due(
    line: Annotated[str | None, typer.Option(help="Line id.")] = None,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The to-do list of due inspections (overdue ones flagged). Example: linebrain quality due --line filler"""
    from mes.quality.inspections import todo

    with _connection(database_url, data_dir) as conn:
        found = _run(todo, conn, line, datetime.now(UTC))
    if as_json:
        _dump(found)
        return
    table = Table(title=f"{len(found)} inspections due")
    for column in ("id", "line", "order", "plan", "characteristic", "due", "overdue"):
        table.add_column(column)
    for item in found:
        table.add_row(str(item["id"]), item["line_id"], item["work_order"] or "", item["plan"], item["characteristic"],
                      f"{item['due_at']:%Y-%m-%d %H:%M}", "OVERDUE" if item["overdue"] else "")
    console.print(table)


@quality_app.command("capability")
def capability(
    spec_id: Annotated[int, typer.Argument(help="Spec id.", show_default=False)],
    estimator: Annotated[str | None, typer.Option(help="rbar_d2, sbar_c4 or mrbar_d2.")] = None,
    as_json: Json = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Cp, Cpk, Pp, Ppk of a spec's inspection data, with the σ estimator. Example: linebrain quality capability 3"""
    from mes.quality.spc import spec_capability

    with _connection(database_url, data_dir) as conn:
        result = _run(spec_capability, conn, spec_id, None, None, estimator)
    if as_json:
        _dump(result)
        return

    def fmt(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    console.print(f"{result['characteristic']}: n={result['count']} mean {result['mean']:.6g}  "
                  f"Cp {fmt(result['cp'])} Cpk {fmt(result['cpk'])} Pp {fmt(result['pp'])} Ppk {fmt(result['ppk'])}  "
                  f"σ within {result['sigma_within']:.4g} ({result['estimator']}), "
                  f"σ overall {result['sigma_overall']:.4g}", markup=False)


@quality_app.command("events")
def list_events(
    after: Annotated[int, typer.Option(help="Only events with a higher id.")] = 0,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Quality events for the alarm system, as JSON lines. Example: linebrain quality events --after 120"""
    from mes.quality.events import events_since

    with _connection(database_url, data_dir) as conn:
        for event in events_since(conn, after):
            print(json.dumps(event, default=str))


def register(app: typer.Typer) -> None:
    app.command("trace")(trace)
    app.add_typer(quality_app, name="quality")
