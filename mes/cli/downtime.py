"""``linebrain downtime``: list stops, give them a reason, split them (what the API offers, from a shell)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, cli_actor, cli_user, console, failed
from mes.cli.timeopts import From, To

downtime_app = typer.Typer(
    help="Stops and their reasons.\n\nExamples:\n\n  linebrain downtime list --line line1 --from yesterday "
    "--unassigned\n\n  linebrain downtime assign 42 jam --why 'label jam at the labeller'\n\n"
    "  linebrain downtime split 42 --at 2026-03-02T08:05",
    no_args_is_help=True,
)
User = Annotated[str, typer.Option("--user", envvar="LINEBRAIN_USER", help="Who does it (recorded).")]
Why = Annotated[str, typer.Option("--why", help="Why (recorded).")]


def _connect(database_url: str | None, data_dir):
    import psycopg

    from mes.cli.common import migrated_database_url

    return psycopg.connect(migrated_database_url(database_url, data_dir), autocommit=True)


@downtime_app.command("list")
def list_(
    line: Annotated[str, typer.Option("--line", help="Line or work cell id.", show_default=False)],
    start: From = "today",
    end: To = None,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Only stops without a reason.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Stops and no-data periods of a line, in plant time, with their reason.

    Example: linebrain downtime list --line line1 --from yesterday --unassigned
    """
    from mes.cli.kpi import period_title, plant_time
    from mes.cli.timeopts import parse_window
    from mes.errors import MesError
    from mes.production import downtime
    from mes.production.equipment import get_unit

    with _connect(database_url, data_dir) as conn:
        try:
            unit = get_unit(conn, line)
            t_from, t_to = parse_window(start, end, unit["timezone"])
            events = downtime.list_events(conn, line, t_from, t_to, unassigned=unassigned)
        except MesError as exc:
            raise failed(exc) from None
    if as_json:
        print(json.dumps(events, default=str, indent=2))
        return
    tz = unit["timezone"]
    table = Table(title=period_title(line, t_from, t_to, tz), pad_edge=False, padding=(0, 1))
    for column in ("id", "start", "min", "kind", "state", "fault", "reason"):
        table.add_column(column, justify="right" if column in ("id", "min", "fault") else "left",
                         max_width=24 if column == "reason" else None, overflow="ellipsis")  # fmt: skip
    for e in events:
        minutes = f"{e['seconds'] / 60:.1f}" if e["seconds"] is not None else "open"
        table.add_row(str(e["id"]), plant_time(e["start"], tz, "%m-%d %H:%M:%S"), minutes, e["kind"], e["state"],
                      str(e["fault_code"] or "—"), e["reason_code"] or "—")  # fmt: skip
    console.print(table if events else "no stops in that period")


@downtime_app.command("assign")
def assign(
    event_id: Annotated[int, typer.Argument(help="Stop id (from `downtime list`).", show_default=False)],
    reason: Annotated[str, typer.Argument(help="Reason code of the line's reason tree.", show_default=False)],
    why: Why = "",
    user: User = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Give a stop its reason, or reclassify it (the earlier reason stays in its history).

    Example: linebrain downtime assign 42 jam --why 'label jam'
    """
    from mes.auth import audit
    from mes.errors import MesError
    from mes.production import downtime

    with _connect(database_url, data_dir) as conn:
        try:
            with conn.transaction():
                before = downtime.get_event(conn, event_id)
                event = downtime.assign_reason(conn, event_id, reason, cli_user(user), why)
                audit.record(conn, cli_actor(user), "downtime.assign", f"downtime:{event_id}", before, event,
                             route="cli: downtime assign")  # fmt: skip
        except MesError as exc:
            raise failed(exc) from None
    console.print(f"stop {event['id']}: {event['reason_code']} ({event['reason_name']}, {event['time_element']})",
                  highlight=False)  # fmt: skip


@downtime_app.command("split")
def split(
    event_id: Annotated[int, typer.Argument(help="Stop id (from `downtime list`).", show_default=False)],
    at: Annotated[str, typer.Option("--at", help="Where to split (ISO, plant time if no offset).",
                                    show_default=False)],
    why: Why = "",
    user: User = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Split a closed stop in two; both keep its reason.

    Example: linebrain downtime split 42 --at 2026-03-02T08:05 --why 'two causes'
    """
    from mes.auth import audit
    from mes.cli.timeopts import parse_time
    from mes.errors import MesError
    from mes.production import downtime
    from mes.production.equipment import get_unit

    with _connect(database_url, data_dir) as conn:
        try:
            with conn.transaction():
                event = downtime.get_event(conn, event_id)
                tz = get_unit(conn, event["equipment_id"])["timezone"]
                parts = downtime.split_event(conn, event_id, parse_time(at, tz, "--at"), cli_user(user), why)
                audit.record(conn, cli_actor(user), "downtime.edit", f"downtime:{event_id}", event, parts,
                             route="cli: downtime split")  # fmt: skip
        except MesError as exc:
            raise failed(exc) from None
    console.print(f"stop {event_id} split into {', '.join(str(p['id']) for p in parts)}")


def register(app: typer.Typer) -> None:
    app.add_typer(downtime_app, name="downtime")
