"""``linebrain routing``: job-shop orders from the shell — the simulated garment plant into a demo
database, an order's tracking, operator output for payroll (docs/routing.md)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, cli_actor, cli_user, console, err_console

routing_app = typer.Typer(
    help="Job shops: orders through many operations, bundle scans, WIP, operator output.\n\n"
    "Examples:\n\n  linebrain routing simulate --data-dir /tmp/garment --hours-ago 6\n\n"
    "  linebrain routing track G-4711 --data-dir /tmp/garment\n\n"
    "  linebrain routing output --day 2026-12-07 --file output.xlsx --data-dir /tmp/garment",
    no_args_is_help=True,
)
User = Annotated[str, typer.Option("--user", envvar="LINEBRAIN_USER", help="Who does it (recorded).")]


def _connect(database_url: str | None, data_dir: Path | None):
    import psycopg

    from mes.cli.common import migrated_database_url

    return psycopg.connect(migrated_database_url(database_url, data_dir), autocommit=True)


@routing_app.command("simulate")
def simulate(
    order: Annotated[str, typer.Option("--order", help="The order number.")] = "G-4711",
    quantity: Annotated[int, typer.Option("--quantity", min=1, max=100_000)] = 1200,
    bundle: Annotated[int, typer.Option("--bundle", min=1, max=1000, help="Pieces per bundle.")] = 20,
    sewing: Annotated[int, typer.Option("--sewing", min=1, max=16, help="Sewing operations.")] = 12,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    hours_ago: Annotated[float, typer.Option("--hours-ago", min=0, max=1000,
                                             help="The order started this many hours ago.")] = 6.0,
    user: User = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The simulated garment plant (cutting → sewing → finishing → packing) into a demo database:
    its stations, routing and order, cut into bundles, with the scans up to now. The database must
    hold no other plant (use its own --data-dir)."""
    from mes.auth import audit
    from mes.errors import MesError
    from mes.production.sync import sync_plant
    from mes.routing import flow, simulated
    from simulator.garment import GarmentPlant, garment_operations

    start = datetime.now(UTC) - timedelta(hours=hours_ago)
    plant = GarmentPlant(quantity=quantity, bundle_size=bundle, operations=garment_operations(sewing), seed=seed,
                         start=start)  # fmt: skip
    scans = [s for s in plant.run(order) if s.elapsed <= hours_ago * 3600]
    with _connect(database_url, data_dir) as conn:
        others = simulated.other_lines(conn)
        if others:
            err_console.print(f"this database holds another plant (lines {', '.join(others)}): "
                              "simulate into its own --data-dir or --database-url", markup=False)  # fmt: skip
            raise typer.Exit(2)
        sync_plant(conn, simulated.garment_config(), now=start)
        try:
            with conn.transaction():
                made = simulated.load_order(conn, plant, order, by=cli_user(user))
                simulated.feed_scans(conn, scans, by=cli_user(user))
                audit.record(conn, cli_actor(user), "routing.plan", f"order:{made['id']}", None,
                             {"simulated": order, "scans": len(scans)}, route="cli: routing simulate")  # fmt: skip
        except MesError as exc:
            err_console.print(f"{'--' + exc.field.replace('_', '-') + ': ' if exc.field else ''}{exc}", markup=False)
            raise typer.Exit(2) from None
        _print_tracking(flow.tracking(conn, made["id"]))
    console.print(f"{len(scans)} scans fed; station {plant.breakdowns[0].station} was down "
                  f"{plant.breakdowns[0].start / 60:.0f}–{plant.breakdowns[0].end / 60:.0f} min into the order")


@routing_app.command("track")
def track(
    order: Annotated[str, typer.Argument(help="The order number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Where the order is: each operation's in, good, scrap, WIP, status and projected finish."""
    from mes.errors import MesError
    from mes.production import orders
    from mes.routing import flow

    with _connect(database_url, data_dir) as conn:
        try:
            tracked = flow.tracking(conn, orders.find_order(conn, order)["id"])
        except MesError as exc:
            err_console.print(str(exc), markup=False)
            raise typer.Exit(2) from None
    if as_json:
        console.print_json(json.dumps(tracked, default=str))
    else:
        _print_tracking(tracked)


def _print_tracking(tracked: dict) -> None:
    order = tracked["order"]
    table = Table(title=f"{order['number']}: {tracked['progress']:g} of {order['planned_quantity']:g} good, "
                        f"delivery {tracked['late_risk']}")  # fmt: skip
    for column in ("op", "name", "centre", "in", "good", "scrap", "WIP", "status", "pcs/h", "projected finish"):
        table.add_column(column, justify="right" if column in ("in", "good", "scrap", "WIP", "pcs/h") else "left")
    bottleneck = (tracked["bottleneck"] or {}).get("seq")
    for op in tracked["operations"]:
        rate = op["rate_per_hour"]
        finish = op["projected_finish"]
        table.add_row(f"{op['seq']}{' *' if op['seq'] == bottleneck else ''}", op["name"], op["work_centre_id"],
                      f"{op['quantity_in']:g}", f"{op['good']:g}", f"{op['scrap']:g}", f"{op['wip']:g}", op["status"],
                      "–" if rate is None else f"{rate:.0f}", finish.isoformat(timespec="minutes") if finish else "–")
    console.print(table)
    if bottleneck:
        console.print(f"* bottleneck: {bottleneck} {tracked['bottleneck']['name']}")
    for flag in tracked["flags"]:
        console.print(f"check: {flag}")


@routing_app.command("output")
def output_(
    day: Annotated[str | None, typer.Option("--day", help="Plant day (YYYY-MM-DD); default today.")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="Per order and operation (for payroll).")] = False,
    file: Annotated[Path | None, typer.Option("--file", help="Write .csv or .xlsx instead of printing.")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Operator output of a plant day: pieces, earned standard minutes, attended minutes, efficiency."""
    from mes.routing import output
    from mes.web.exports import table_bytes

    with _connect(database_url, data_dir) as conn:
        try:
            chosen, start, end = output.plant_day(conn, date.fromisoformat(day) if day else None, datetime.now(UTC))
        except ValueError:
            err_console.print(f"--day: not a date: {day!r}", markup=False)
            raise typer.Exit(2) from None
        found = (output.output_detail if detail else output.operator_output)(conn, start, end)
    if file is not None:
        if file.suffix not in (".csv", ".xlsx"):
            err_console.print("--file: name a .csv or .xlsx file", markup=False)
            raise typer.Exit(2)
        file.write_bytes(table_bytes(found, file.suffix[1:]))
        console.print(f"{len(found)} rows written to {file}")
        return
    table = Table(title=f"operator output {chosen}")
    columns = ("operator", "order_number", "seq", "operation", "good", "sam_minutes", "earned_minutes") if detail \
        else ("operator", "shift", "good", "scrap", "earned_minutes", "attended_minutes", "attendance", "efficiency")
    for column in columns:
        table.add_column(column)
    for found_row in found:
        table.add_row(*[_cell(found_row[c]) for c in columns])
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return "–" if value is None else str(value)


def register(app: typer.Typer) -> None:
    app.add_typer(routing_app, name="routing")
