"""``linebrain kpi`` and ``linebrain pareto``: ISO 22400-2 KPIs of a line for a period, in plant time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, err_console, failed
from mes.cli.timeopts import From, To

# What fits 80 columns; --wide shows every element.
NARROW = ("oee", "availability", "effectiveness", "quality_ratio", "pbt", "apt", "pq", "gq")
WIDE = ("oee", "availability", "effectiveness", "quality_ratio", "pot", "pdt", "pbt", "apt", "aust", "adet", "adot",
        "no_data_time", "pq", "gq", "sq", "rq")  # fmt: skip
RATIOS = {"oee": "OEE", "availability": "avail", "effectiveness": "perf", "quality_ratio": "qual"}
QUANTITIES = ("pq", "gq", "sq", "rq")
Grouping = Literal["period", "shift", "order", "product", "day", "week", "month"]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.2f}h"


def _cell(column: str, row: dict) -> str:
    if column in RATIOS:
        return _pct(row[column])
    if column in QUANTITIES:
        return f"{row[column]:.0f}"
    return _hours(row[column])


def _header(column: str) -> str:
    if column in RATIOS:
        return RATIOS[column]
    if column == "no_data_time":
        return "NODATA"
    return column.upper()


def plant_time(value: datetime, timezone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the plant reads it: local, 24 h."""
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(timezone)).strftime(fmt)


def period_title(line: str, start: datetime, end: datetime, timezone: str) -> str:
    """``line1 2026-03-02 06:00 – 22:00 (Europe/Berlin)``: a window in plant time, its zone named."""
    same_day = plant_time(start, timezone, "%Y-%m-%d") == plant_time(end, timezone, "%Y-%m-%d")
    end_format = "%H:%M" if same_day else "%Y-%m-%d %H:%M"
    return f"{line} {plant_time(start, timezone)} – {plant_time(end, timezone, end_format)} ({timezone})"


def warn_implausible(label: str, row: dict) -> None:
    """One warning line for a row whose numbers cannot be taken at face value."""
    from mes.production.kpi import explain

    reasons = explain(row)
    if reasons:
        err_console.print(f"warning: {label}: not plausible: {'; '.join(reasons)}", markup=False, highlight=False,
                          soft_wrap=True)  # fmt: skip


def kpi(
    line: Annotated[str, typer.Option("--line", help="Line or work cell id.", show_default=False)],
    start: From = "today",
    end: To = None,
    shift: Annotated[str | None, typer.Option("--shift", help="Only the shift of this name on --from's day "
                                                              "(e.g. early, night).", show_default=False)] = None,
    by: Annotated[Grouping, typer.Option("--by", help="Group rows by.")] = "period",
    wide: Annotated[bool, typer.Option("--wide", help="Every time element and quantity (wider than 80 columns).")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON (every field).")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """KPIs of a line in plant time: OEE = availability x effectiveness x quality, with POT, PBT, APT, PQ,
    GQ ... they come from; rows that cannot be taken at face value get a warning line.

    Examples: linebrain kpi --line line1 --from 2026-03-02T06:00 --to 2026-03-02T22:00 --by shift
    — linebrain kpi --line line1 --from yesterday --shift night — linebrain kpi --line line1 --from -7d --by day
    """
    import psycopg

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_window
    from mes.errors import MesError
    from mes.production import kpi as kpi_domain
    from mes.production.equipment import get_unit
    from mes.production.shifts import named_shift

    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            unit = get_unit(conn, line)
            t_from, t_to = parse_window(start, end, unit["timezone"])
            if shift:
                t_from, t_to = named_shift(conn, line, shift, t_from)
            if by in kpi_domain.CALENDAR_GROUPINGS:
                rows = kpi_domain.calendar_kpis(conn, line, t_from, t_to, by)
            else:
                rows = kpi_domain.kpis(conn, line, t_from, t_to, by)
        except MesError as exc:
            raise failed(exc) from None
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    timezone = unit["timezone"]
    if not rows:
        console.print(f"no data in {period_title(line, t_from, t_to, timezone)}")
        return
    columns = WIDE if wide else NARROW
    table = Table(title=period_title(line, t_from, t_to, timezone), pad_edge=False, padding=(0, 1))
    table.add_column(by, no_wrap=True, max_width=None if wide else 14, overflow="ellipsis")
    for column in columns:
        table.add_column(_header(column), justify="right", no_wrap=True)
    for row in rows:
        table.add_row(str(row["group_label"]), *(_cell(c, row) for c in columns))
    console.print(table)
    console.print(f"Minor stops as {rows[0]['minor_stop_loss']} loss.", highlight=False)
    console.print(f"Quality: {kpi_domain.QUALITY_CONVENTION}.", highlight=False)
    no_data = sum(row["no_data_time"] or 0 for row in rows)
    if no_data > 0 and not wide:
        console.print(f"No data (state unknown, not in PBT): {_hours(no_data)}", highlight=False)
    for row in rows:
        warn_implausible(str(row["group_label"]), row)


def pareto(
    line: Annotated[str, typer.Option("--line", help="Line or work cell id.", show_default=False)],
    start: From = "today",
    end: To = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Downtime Pareto: lost time by reason, largest first (minor stops and no data apart).

    Example: linebrain pareto --line line1 --from yesterday
    """
    import psycopg

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_window
    from mes.errors import MesError
    from mes.production import kpi as kpi_domain
    from mes.production.equipment import get_unit

    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            unit = get_unit(conn, line)
            t_from, t_to = parse_window(start, end, unit["timezone"])
            rows = kpi_domain.downtime_pareto(conn, line, t_from, t_to)
        except MesError as exc:
            raise failed(exc) from None
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table(title=period_title(line, t_from, t_to, unit["timezone"]), pad_edge=False, padding=(0, 1))
    for column in ("reason", "element", "stops", "minutes", "share"):
        table.add_column(column, justify="left" if column in ("reason", "element") else "right",
                         max_width=34 if column == "reason" else None, overflow="ellipsis")  # fmt: skip
    for row in rows:
        table.add_row(f"{row['reason_name']} ({row['reason_code']})", row["time_element"] or "—", str(row["events"]),
                      f"{row['seconds'] / 60:.1f}", _pct(row["share"]))  # fmt: skip
    console.print(table if rows else "no lost time in that period")


def register(app: typer.Typer) -> None:
    app.command("kpi")(kpi)
    app.command("pareto")(pareto)
