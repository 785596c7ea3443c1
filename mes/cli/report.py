"""``linebrain report shift|day|week|month``: a report of one line, or of the whole plant, as PDF or
XLSX, with a progress bar."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, err_console, failed


def report(
    kind: Annotated[Literal["shift", "day", "week", "month"], typer.Argument(help="The period the report covers.")],
    line: Annotated[str | None, typer.Option("--line", help="Line id (default: the plant's only line, or the whole "
                                             "plant when it has several).", show_default=False)] = None,
    plant: Annotated[bool, typer.Option("--plant", help="The whole plant: every line, summed the ISO 22400 way "
                                        "(docs/reports.md).")] = False,
    day: Annotated[str | None, typer.Option("--date", help="A plant-local day (YYYY-MM-DD) in the period "
                                                           "(default: the last closed period).",
                                            show_default=False)] = None,
    shift: Annotated[str | None, typer.Option("--shift", help="With shift: the shift's name (default: the day's "
                                                              "last ended shift).", show_default=False)] = None,
    fmt: Annotated[Literal["pdf", "xlsx"], typer.Option("--format", help="File format.")] = "pdf",
    lang: Annotated[Literal["zh-CN", "en"], typer.Option("--lang", help="Language of the report.")] = "zh-CN",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write (default: a name from the "
                                                                       "line and period, in this folder).",
                                                show_default=False)] = None,
    keep: Annotated[bool, typer.Option("--store", help="Also keep it in the database (the pages list it).")]
    = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write the report of a line's (or the plant's) shift, day, week or month: production against plan,
    OEE and its losses, downtime with comments, changeovers, quality, energy, handover and sign-off.

    Examples: linebrain report shift --line line1 --date 2026-03-04 --shift early -o early.pdf —
    linebrain report week --format xlsx --lang en — linebrain report day --plant --date 2026-03-04
    """
    import psycopg
    from rich.progress import BarColumn, Progress

    from mes.cli.common import migrated_database_url
    from mes.errors import MesError
    from mes.reports import store
    from mes.reports.content import SECTIONS
    from mes.reports.generate import file_name, render
    from mes.reports.plant import PLANT_SECTIONS
    from mes.reports.service import any_period

    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError:
        err_console.print(f"--date: not a day (YYYY-MM-DD): {day!r}")
        raise typer.Exit(2) from None
    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            if plant and line:
                err_console.print("--plant: a plant report covers every line; leave out --line")
                raise typer.Exit(2)
            period = any_period(conn, None if plant else line or store.only_line_or_plant(conn), kind, wanted, shift)
            sections = PLANT_SECTIONS if period.line_id == store.PLANT else SECTIONS
            with Progress("[progress.description]{task.description}", BarColumn(),
                          "[progress.percentage]{task.percentage:>3.0f}%", console=err_console) as bar:  # fmt: skip
                task = bar.add_task(f"{kind} {period.label}", total=len(sections) + 1)
                data = render(conn, period, fmt, lang, progress=lambda _section: bar.advance(task))
                bar.advance(task)
            if keep:
                store.save(conn, period, fmt, lang, data, by="cli")
        except MesError as exc:
            raise failed(exc) from None
    target = output or Path(file_name(period, fmt, lang))
    target.write_bytes(data)
    console.print(f"wrote {target} ({len(data):,} bytes): {kind} {period.line_id} {period.label}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
