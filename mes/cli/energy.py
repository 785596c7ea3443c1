"""``linebrain energy``: where a line's kWh went in a period (producing, stopped, setup, without an
order, ...), kWh per unit and per good unit, by shift, order or product, and each shift's deviation
from the line's baseline: the figures of ``GET /api/lines/{id}/energy``, in plant time."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, failed
from mes.cli.kpi import period_title
from mes.cli.timeopts import From, To

ELEMENT_NAMES = {"APT": "producing", "ADET": "stopped (delays, failures)", "AUST": "setup",
                 "ADOT": "available, no order", "PDT": "planned downtime", "NODATA": "no data",
                 "OUTSIDE": "outside shifts"}  # fmt: skip


def _kwh(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def energy(
    line: Annotated[str, typer.Option("--line", help="Line or work cell id.", show_default=False)],
    start: From = "today",
    end: To = None,
    by: Annotated[Literal["period", "shift", "order", "product"], typer.Option("--by", help="Group rows by.")]
    = "shift",
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Energy of a line: kWh by time element (what was used while nothing was produced), kWh per good
    unit by shift, order or product, and each shift's deviation from the fitted baseline.

    Examples: linebrain energy --line line1 --from yesterday — linebrain energy --line line1 --from -7d --by order
    """
    import psycopg

    from mes.cli.common import migrated_database_url
    from mes.cli.timeopts import parse_window
    from mes.energy import deviations, energy_by, energy_split, latest_baseline
    from mes.errors import MesError
    from mes.production.equipment import get_unit

    url = migrated_database_url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            unit = get_unit(conn, line)
            t_from, t_to = parse_window(start, end, unit["timezone"])
            split = energy_split(conn, line, t_from, t_to)
            rows = energy_by(conn, line, t_from, t_to, by)
            baseline = latest_baseline(conn, line)
            shifts = deviations(conn, line, t_from, t_to) if baseline else []
        except MesError as exc:
            raise failed(exc) from None
    if as_json:
        print(json.dumps({**split, "rows": rows, "baseline": baseline, "deviations": shifts}, default=str, indent=2))
        return
    title = period_title(line, t_from, t_to, unit["timezone"])
    where = Table(title=f"{title}: where the energy went", pad_edge=False, padding=(0, 1))
    for column in ("element", "hours", "kWh"):
        where.add_column(column, justify="left" if column == "element" else "right")
    for element, part in split["by_element"].items():
        if part["energy"] or part["seconds"]:
            where.add_row(f"{ELEMENT_NAMES[element]} ({element})", f"{part['seconds'] / 3600:.2f}",
                          _kwh(part["energy"]))  # fmt: skip
    console.print(where)
    share = split["not_producing_share"]
    console.print(f"Total {_kwh(split['energy'])} kWh; while not producing {_kwh(split['not_producing'])} kWh"
                  f"{'' if share is None else f' ({100 * share:.1f}%)'}.", highlight=False)  # fmt: skip
    table = Table(title=f"kWh per good unit by {by}", pad_edge=False, padding=(0, 1))
    for column in (by, "kWh", "PQ", "GQ", "kWh/unit", "kWh/good"):
        table.add_column(column, justify="left" if column == by else "right", no_wrap=True)
    for row in rows:
        table.add_row(str(row["group_label"] or row["group_key"] or "—"), _kwh(row["energy"]), f"{row['pq']:.0f}",
                      f"{row['gq']:.0f}", _kwh(row["energy_per_unit"], 4), _kwh(row["energy_per_good_unit"], 4))
    console.print(table)
    if baseline:
        console.print(f"Baseline: {baseline['intercept']:.1f} kWh per shift + {baseline['slope']:.5f} kWh per unit "
                      f"(R² {baseline['r2'] or 0:.3f}, {baseline['points']} shifts).", highlight=False)  # fmt: skip
        for row in shifts:
            console.print(f"  {row['shift']}: {_kwh(row['energy'])} kWh, baseline {_kwh(row['predicted'])}, deviation "
                          f"{row['deviation']:+,.1f} kWh", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("energy")(energy)
