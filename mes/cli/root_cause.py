"""``linebrain root-cause``: which machine, with which fault, cost a line its time."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, failed
from mes.cli.kpi import _pct, period_title
from mes.cli.timeopts import From, To

Grouping = Literal["machine", "fault"]


def root_cause(
    line: Annotated[str, typer.Option("--line", help="Line id (its config names a constraint).", show_default=False)],
    start: From = "today",
    end: To = None,
    by: Annotated[Grouping, typer.Option("--by", help="machine, or machine and fault code")] = "machine",
    machines: Annotated[bool, typer.Option("--machines", help="Also each machine's KPIs beside the line's.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Line downtime attributed to the machine that caused it (and its fault code), largest first.

    Example: linebrain root-cause --line line1 --from yesterday --by fault --machines
    """
    import psycopg

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_window
    from mes.errors import MesError
    from mes.production import root_cause as domain
    from mes.production.equipment import get_unit

    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            unit = get_unit(conn, line)
            t_from, t_to = parse_window(start, end, unit["timezone"])
            rows = domain.pareto(conn, line, t_from, t_to, by)
            kpis = domain.machine_kpis(conn, line, t_from, t_to) if machines else []
        except MesError as exc:
            raise failed(exc) from None
    if as_json:
        print(json.dumps({"pareto": rows, "machines": kpis} if machines else rows, default=str, indent=2))
        return
    title = period_title(line, t_from, t_to, unit["timezone"])
    table = Table(title=f"{title}: lost time by cause", pad_edge=False, padding=(0, 1))
    columns = ("machine", "fault", "minutes", "share") if by == "fault" else ("machine", "minutes", "share")
    for column in columns:
        table.add_column(column, justify="left" if column == "machine" else "right")
    for row in rows:
        cells = [row["machine"] or "unknown", f"{row['seconds'] / 60:.1f}", _pct(row["share"])]
        if by == "fault":
            cells.insert(1, "—" if row["fault_code"] is None else str(row["fault_code"]))
        table.add_row(*cells)
    console.print(table if rows else "no attributed lost time in that period")
    if kpis:
        console.print(_machine_table(kpis))


def _machine_table(kpis: list[dict]) -> Table:
    table = Table(title="machines (ISO 22400-2, same formulas as the line)", pad_edge=False, padding=(0, 1))
    for column in ("unit", "OEE", "avail", "perf", "qual", "MTBF min", "MTTR min"):
        table.add_column(column, justify="left" if column == "unit" else "right")
    for row in kpis:
        name = "line" if row["machine"] is None else row["machine"] + (" *" if row["is_constraint"] else "")
        table.add_row(name, _pct(row["oee"]), _pct(row["availability"]), _pct(row["effectiveness"]),
                      _pct(row["quality_ratio"]), _minutes(row["mtbf"]), _minutes(row["mttr"]))  # fmt: skip
    table.caption = "* the constraint"
    return table


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def register(app: typer.Typer) -> None:
    app.command("root-cause")(root_cause)
