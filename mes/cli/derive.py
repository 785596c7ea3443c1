"""``linebrain derive``: turn stored samples (imported history, late data) into production facts now."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, err_console, load_config_or_exit


def derive(
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config file (YAML).", show_default=False)],
    line: Annotated[str | None, typer.Option("--line", help="Only this line or work cell.", show_default=False)]
    = None,
    start: Annotated[str | None, typer.Option("--from", help="With --rederive: from this time (ISO, plant time).",
                                              show_default=False)] = None,
    end: Annotated[str, typer.Option("--to", help="Derive up to this time (ISO, now, -8h).")] = "now",
    rederive: Annotated[bool, typer.Option("--rederive", help="Derive again what was derived (from --from, or "
                                                              "from the first sample).")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Derive states, counts, stops and orders from the samples not derived yet (imported history
    included), building the shift calendar for their days; say when it has caught up.

    Examples: linebrain import history.csv --config plant.yaml && linebrain derive --config plant.yaml
    — linebrain derive -c plant.yaml --line line1 --rederive --from 2026-03-02T06:00
    """
    import psycopg
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_time
    from mes.errors import MesError
    from mes.production.derive import catch_up

    plant = load_config_or_exit(config)
    if start is not None and not rederive:
        err_console.print("--from: only with --rederive (new samples are derived from where derivation stopped)")
        raise typer.Exit(2)
    tz = plant.site.timezone
    since = parse_time(start, tz, "--from") if start else None
    until = parse_time(end, tz, "--to")
    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn, Progress(
        "[progress.description]{task.description}", BarColumn(), "[progress.percentage]{task.percentage:>3.0f}%",
        TimeRemainingColumn(), console=err_console,
    ) as progress:  # fmt: skip
        task = progress.add_task("deriving", total=None)
        try:
            result = catch_up(conn, plant, line=line, since=since, until=until, rederive_all=rederive,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
        except MesError as exc:
            progress.stop()
            err_console.print(f"{'--' + exc.field + ': ' if exc.field else ''}{exc}")
            raise typer.Exit(2) from None
    for error in result.errors:
        err_console.print(f"failed: {error}")
    units = ", ".join(result.units)
    if result.start is None:
        console.print(f"caught up: nothing new to derive for {units}")
    else:
        console.print(f"caught up: derived {units} from {result.start:%Y-%m-%d %H:%M}Z to "
                      f"{result.until:%Y-%m-%d %H:%M}Z")  # fmt: skip
    if result.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("derive")(derive)
