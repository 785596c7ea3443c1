"""``linebrain kpi``: ISO 22400-2 KPIs of a line for a period, with their time elements."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, err_console

ELEMENTS = ("pot", "pdt", "pbt", "apt", "aust", "adet", "adot")
FACTORS = ("oee", "availability", "effectiveness", "quality_ratio")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f} h"


def kpi(
    line: Annotated[str, typer.Option("--line", help="Line or work cell id.", show_default=False)],
    start: Annotated[str, typer.Option("--from", help="Start: ISO time (plant zone if no offset), today, -8h.")]
    = "today",
    end: Annotated[str, typer.Option("--to", help="End: ISO time, now.")] = "now",
    by: Annotated[Literal["period", "shift", "order", "product"], typer.Option("--by", help="Group rows by.")]
    = "period",
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON (every field).")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """KPIs of a line: OEE = availability x effectiveness x quality, with POT, PBT, APT, ADET, PQ,
    GQ ... they come from.

    Examples: linebrain kpi --line line1 --from 2026-03-02T06:00 --to 2026-03-02T22:00 --by shift
    — linebrain kpi --line line1 --from -8h --json
    """
    import psycopg

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_time
    from mes.errors import MesError
    from mes.production import kpi as kpi_domain
    from mes.production.equipment import get_unit

    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            unit = get_unit(conn, line)
            t_from = parse_time(start, unit["timezone"], "--from")
            t_to = parse_time(end, unit["timezone"], "--to")
            rows = kpi_domain.kpis(conn, line, t_from, t_to, by)
        except MesError as exc:
            err_console.print(f"{'--' + exc.field + ': ' if exc.field else ''}{exc}")
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    if not rows:
        console.print("no data in that period")
        return
    table = Table(title=f"{line} {t_from:%Y-%m-%d %H:%M}Z – {t_to:%Y-%m-%d %H:%M}Z "
                        f"(minor stops as {rows[0]['minor_stop_loss']} loss)")  # fmt: skip
    width = max(len(str(row["group_label"])) for row in rows)
    table.add_column("group", no_wrap=True, min_width=width)
    for column in (*FACTORS, *ELEMENTS, "PQ", "GQ", "SQ"):
        table.add_column(column.upper() if column in ELEMENTS else column.replace("_ratio", ""), justify="right")
    for row in rows:
        table.add_row(
            str(row["group_label"]), *(_pct(row[f]) for f in FACTORS), *(_hours(row[e]) for e in ELEMENTS),
            f"{row['pq']:.0f}", f"{row['gq']:.0f}", f"{row['sq']:.0f}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)
