"""``linebrain orders``: list, create and move work orders through their lifecycle."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, cli_actor, cli_user, console, err_console

if TYPE_CHECKING:
    from mes.errors import MesError

orders_app = typer.Typer(
    help="Work orders: planned → released → running ⇄ paused → completed / cancelled.\n\n"
    "Examples:\n\n  linebrain orders create W-1001 --line line1 --product lager --quantity 12000\n\n"
    "  linebrain orders start W-1001\n\n  linebrain orders list --line line1 --status running",
    no_args_is_help=True,
)
User = Annotated[str, typer.Option("--user", envvar="LINEBRAIN_USER", help="Who does it (recorded).")]
At = Annotated[str | None, typer.Option("--at", help="When (ISO, plant time if no offset); default now.",
                                        show_default=False)]  # fmt: skip
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _connect(database_url: str | None, data_dir):
    import psycopg

    from mes.cli.common import migrated_database_url

    return psycopg.connect(migrated_database_url(database_url, data_dir), autocommit=True)


# Domain field names (the API's) -> the options of these verbs; "" for what is no option (the
# order number argument, the order's status).
OPTION_OF_FIELD = {"planned_quantity": "--quantity", "line_id": "--line", "product_id": "--product", "due_at": "--due",
                   "number": "", "status": "", "order_id": ""}


def _fail(exc: MesError) -> typer.Exit:
    """Exit 2 with the domain's message, naming the option at fault (the domain names its field)."""
    option = OPTION_OF_FIELD.get(exc.field, "--" + exc.field.replace("_", "-")) if exc.field else None
    err_console.print(f"{option + ': ' if option else ''}{exc}", markup=False, soft_wrap=True)
    return typer.Exit(2)


@orders_app.command("list")
def list_(
    line: Annotated[str | None, typer.Option("--line", help="Only this line.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List orders, newest first, with progress. Example: linebrain orders list --status running"""
    from mes.production import orders

    with _connect(database_url, data_dir) as conn:
        rows = [{**o, "progress": orders.order_progress(conn, o["id"]), "timezone": _timezone(conn, o["line_id"])}
                for o in orders.list_orders(conn, line, status)]
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    from mes.cli.kpi import plant_time, warn_implausible

    table = Table(pad_edge=False, padding=(0, 1))
    for column in ("number", "line", "product", "status", "planned", "good", "done", "projected finish"):
        table.add_column(column, justify="right" if column in ("planned", "good", "done") else "left")
    for o in rows:
        p = o["progress"]
        finish = plant_time(p["projected_finish"], o["timezone"]) if p["projected_finish"] else "—"
        table.add_row(o["number"], o["line_id"], o["product_id"], o["status"], f"{o['planned_quantity']:.0f}",
                      f"{p['good']:.0f}", f"{p['percent_complete']:.1f}%", finish)  # fmt: skip
    console.print(table)
    zones = sorted({o["timezone"] for o in rows})
    if zones:
        console.print(f"Times in plant time ({', '.join(zones)}).", highlight=False)
    for o in rows:
        warn_implausible(o["number"], o["progress"])


@orders_app.command("create")
def create(
    number: Annotated[str, typer.Argument(help="Order number (unique).", show_default=False)],
    line: Annotated[str, typer.Option("--line", help="Line id.", show_default=False)],
    product: Annotated[str, typer.Option("--product", help="Product id.", show_default=False)],
    quantity: Annotated[float, typer.Option("--quantity", help="Planned quantity.", show_default=False)],
    due: Annotated[str | None, typer.Option("--due", help="Due time (ISO).", show_default=False)] = None,
    user: User = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create an order (status planned).

    Example: linebrain orders create W-1 --line line1 --product lager --quantity 500
    """
    from mes.auth import audit
    from mes.cli.timeopts import parse_time
    from mes.errors import MesError
    from mes.production import orders

    with _connect(database_url, data_dir) as conn:
        try:
            tz = _timezone(conn, line)
            due_at = parse_time(due, tz, "--due") if due else None
            with conn.transaction():
                order = orders.create_order(conn, number, line, product, quantity, cli_user(user), due_at)
                audit.record(conn, cli_actor(user), "orders.plan", f"order:{order['id']}", None, order,
                             route="cli: orders create")  # fmt: skip
        except MesError as exc:
            raise _fail(exc) from None
    console.print(f"order {order['number']} created (id {order['id']}, planned)")


def _timezone(conn, line_id: str) -> str:
    row = conn.execute("SELECT timezone FROM equipment WHERE id = %s", (line_id,)).fetchone()
    return row[0] if row else "UTC"


def _transition(action: str):
    def command(
        number: Annotated[str, typer.Argument(help="Order number.", show_default=False)],
        at: At = None,
        note: Annotated[str, typer.Option("--note", help="Why (recorded).")] = "",
        user: User = "",
        database_url: DatabaseUrl = None,
        data_dir: DataDir = None,
    ) -> None:
        from mes.auth import audit
        from mes.cli.timeopts import parse_time
        from mes.errors import MesError
        from mes.production import orders

        with _connect(database_url, data_dir) as conn:
            try:
                before = orders.find_order(conn, number)
                when = parse_time(at, _timezone(conn, before["line_id"]), "--at") if at else None
                with conn.transaction():
                    order = orders.transition(conn, before["id"], orders.ACTIONS[action], cli_user(user), when, note)
                    audit.record(conn, cli_actor(user), "orders.transition", f"order:{order['id']}", before, order,
                                 route=f"cli: orders {action}")  # fmt: skip
            except MesError as exc:
                raise _fail(exc) from None
        console.print(f"order {order['number']} is {order['status']}")

    command.__doc__ = f"{action.capitalize()} an order. Example: linebrain orders {action} W-1001"
    return command


@orders_app.command("show")
def show(
    number: Annotated[str, typer.Argument(help="Order number.", show_default=False)],
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """An order's progress and its transitions. Example: linebrain orders show W-1001"""
    from mes.errors import MesError
    from mes.production import orders

    with _connect(database_url, data_dir) as conn:
        try:
            order = orders.find_order(conn, number)
        except MesError as exc:
            raise _fail(exc) from None
        detail = {**order, "progress": orders.order_progress(conn, order["id"]),
                  "transitions": orders.transitions(conn, order["id"])}  # fmt: skip
        tz = _timezone(conn, order["line_id"])
    if as_json:
        print(json.dumps(detail, default=str, indent=2))
        return
    from mes.cli.kpi import plant_time, warn_implausible

    p = detail["progress"]
    finish = plant_time(p["projected_finish"], tz) if p["projected_finish"] else "—"
    console.print(f"{order['number']} on {order['line_id']}: {order['product_id']}, {order['status']}; "
                  f"good {p['good']:.0f} of {order['planned_quantity']:.0f} ({p['percent_complete']:.1f}%), "
                  f"scrap {p['scrap']:.0f}, projected finish {finish}", highlight=False)  # fmt: skip
    console.print(f"Times in plant time ({tz}).", highlight=False)
    for t in detail["transitions"]:
        console.print(f"  {plant_time(t['at'], tz, '%Y-%m-%d %H:%M:%S')}  {t['from_status'] or '—'} → "
                      f"{t['to_status']}  by {t['by_user']}{'  (' + t['note'] + ')' if t['note'] else ''}",
                      highlight=False)  # fmt: skip
    warn_implausible(order["number"], p)


for _action in ("release", "start", "pause", "resume", "complete", "cancel"):
    orders_app.command(_action)(_transition(_action))


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders")
