"""``linebrain demo``: the brewery line simulator, collectors, store, MES and API in one process,
on the embedded database. With ``--duration`` it runs that long and prints a shift summary."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, err_console

log = logging.getLogger("linebrain.demo")


def demo(
    duration: Annotated[float | None, typer.Option(help="Run this many wall seconds, print a summary, exit.",
                                                   show_default=False)] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per second (60: an hour per minute).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated stops: same seed, same day.")] = 1,
    port: Annotated[int, typer.Option(help="API port on 127.0.0.1 (taken: a free one).")] = 8000,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Run the brewery demo end to end: simulated line (OPC UA) → collectors → store → MES → API.

    With --duration the simulated run ends at the current time (it starts duration × speed
    earlier), so `linebrain demo --duration 120 --speed 60` makes two hours of production in two
    minutes and prints the shift summary: OEE with its three factors, top downtime reasons and
    counts per line and machine.

    Examples: linebrain demo — linebrain demo --duration 120 --speed 60
    """
    from mes.bounds import check_number
    from mes.errors import InvalidInput

    try:
        check_number(speed, "--speed", low=0, high=1e6)
        if duration is not None:
            check_number(duration, "--duration", low=0, high=1e9, positive=True)
    except InvalidInput as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = demo_database(database_url, data_dir)
    console.print(f"database ready at {url}")
    asyncio.run(run_demo(url, duration, speed, seed, port, data_dir))


async def run_demo(url: str, duration: float | None, speed: float, seed: int, port: int, data_dir,
                   ends_at: datetime | None = None) -> dict:
    """The demo; returns the summary, the simulator's true counts and the window (for tests).

    A run with a ``duration`` ends at ``ends_at`` in simulated time (default: now); tests pin it, so
    what the line does (a break, a shift change) does not depend on the hour the test runs."""
    import psycopg
    import uvicorn

    from collectors.config.models import Web
    from collectors.service import CollectorService, ServiceOptions
    from collectors.store import default_spool_dir
    from mes.alarms.evaluation import AlarmEvaluation
    from mes.api import create_app
    from mes.demo_plant import demo_plant
    from mes.jobs import derivation_job
    from mes.production.derive import run_once
    from mes.production.sync import sync_plant
    from simulator import Simulator, SimulatorOptions

    start = _start_time(url, duration, speed, ends_at or datetime.now(UTC).replace(microsecond=0))
    options = SimulatorOptions(scenario="brewery", seed=seed, speed=speed, start=start, modbus_port=None)
    async with Simulator(options) as sim:
        assert sim.opcua_endpoint is not None  # the demo serves OPC UA
        plant = demo_plant(sim.opcua_endpoint)
        with psycopg.connect(url, autocommit=True) as conn:
            sync_plant(conn, plant, now=start)
            _plan_orders(conn, sim, start, duration, speed)
        spool = (data_dir / "spool" / "demo") if data_dir else default_spool_dir() / "demo"
        service = CollectorService(plant, url, ServiceOptions(name="demo", spool_dir=spool, metrics_port=0,
                                                              announce=False))  # fmt: skip
        job = derivation_job(plant, url, every_s=2.0, clock=lambda: sim.now)
        # The demo's API is local and for looking: reads are open; writes still need a user.
        api = uvicorn.Server(uvicorn.Config(create_app(url, web=Web(anonymous_read=True)), host="127.0.0.1",
                                            port=_free(port), log_level="warning", lifespan="on"))  # fmt: skip
        alarms = AlarmEvaluation(plant, url, clock=lambda: sim.now.timestamp())  # delays run on simulated time
        tasks = [asyncio.create_task(service.run(jobs=[job, alarms.job], listeners=[alarms.listen])),
                 asyncio.create_task(api.serve())]
        await service.started.wait()
        console.print(f"simulator: OPC UA {sim.opcua_endpoint} (brewery line, speed {speed:g}, seed {seed})")
        console.print(f"API:       http://127.0.0.1:{api.config.port}/docs   (lines: /api/lines)")
        console.print(f"CLI:       linebrain kpi --line line1 --from -8h --database-url {url}", soft_wrap=True)
        console.print(f"           linebrain orders list --database-url {url}", soft_wrap=True)
        console.print(f"Grafana:   linebrain grafana export ./provisioning --database-url {url} "
                      "(then docs/grafana.md)", soft_wrap=True)  # fmt: skip
        try:
            if duration:
                await asyncio.sleep(duration)
            else:
                console.print("running; Ctrl-C to stop")
                await tasks[0]
        finally:
            if duration:
                # Freeze the line and let the last served values reach the database, so the summary
                # and the simulator's true counts describe the same instant.
                await sim.pause()
                await _settle(url, sim, plant)
            end = sim.now
            truth = {m: sim.counters(m) for m in ("filler", "capper", "labeller")}
            service.stop()
            api.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)
    with psycopg.connect(url, autocommit=True) as conn:
        run_once(conn, plant, now=end)
        summary = shift_summary(conn, plant, start, end)
    print_summary(summary, start, end, plant.site.timezone)
    return {"summary": summary, "truth": truth, "start": start, "end": end}


async def _settle(url: str, sim, plant, timeout: float = 15.0) -> None:
    """Wait until every subscribed counter's newest stored value is the one the simulator serves."""
    import psycopg

    counters = {
        binding.tag: sim.point(_node_name(plant, binding.tag)).value
        for line in plant.lines() for equipment in line.equipment
        for binding in (equipment.bindings.good_count, equipment.bindings.reject_count) if binding
    }  # fmt: skip
    deadline = asyncio.get_running_loop().time() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while asyncio.get_running_loop().time() < deadline:
            stored: dict[str, float | None] = dict(conn.execute(
                "SELECT DISTINCT ON (t.name) t.name, s.value FROM samples s JOIN tags t ON t.id = s.tag_id "
                "WHERE t.name = ANY(%s) ORDER BY t.name, s.time DESC", (list(counters),)).fetchall())  # fmt: skip
            if all(stored.get(name) == value for name, value in counters.items()):
                return
            await asyncio.sleep(0.2)
    console.print("warning: the last counter values did not all reach the database in time")


def _node_name(plant, tag_name: str) -> str:
    """The simulator point behind a demo tag (its node id ends in ``s=<dotted point name>``)."""
    node_id = next(tag.node_id for tag in plant.tags if tag.name == tag_name)
    return node_id.split(";s=", 1)[1]


DEMO_DATABASE = "linebrain_demo"


def demo_database(database_url: str | None, data_dir) -> str:
    """A migrated database for the demo. On the embedded server: a fresh ``linebrain_demo``
    database each run (simulated time may overlap an earlier run's); a given URL is used
    as it is, and the run starts after its newest sample."""

    from mes.auth.keeper import migrate_and_seal

    if database_url:
        migrate_and_seal(database_url, None)
        return database_url
    from collectors.database.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(data_dir)
    server.start()
    url = server.create_database(DEMO_DATABASE, replace=True)
    migrate_and_seal(url, server.admin_url(DEMO_DATABASE))
    return url


def _start_time(url: str, duration: float | None, speed: float, ends_at: datetime) -> datetime:
    """Simulated start: ``duration × speed`` before ``ends_at`` (or ``ends_at`` itself for an open-ended
    run), never before data already there."""
    import psycopg

    from mes.db import scalar

    start = ends_at - timedelta(seconds=duration * speed) if duration else ends_at
    with psycopg.connect(url) as conn:
        newest = scalar(conn, "SELECT max(time) FROM samples")
    return max(start, newest + timedelta(seconds=1)) if newest else start


def _free(port: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


def _plan_orders(conn, sim, start: datetime, duration: float | None, speed: float) -> None:
    """The orders the simulated PLC will run, planned in the MES (the PLC's order-number tag
    then starts each one). Numbers already there (an earlier demo) are kept."""
    from mes.production import orders
    from simulator.brewery import PRODUCTS, ideal_cycle_time

    minutes = sim.options.order_minutes
    count = math.ceil((duration or 8 * 3600) * speed / 60 / minutes) + 1
    prefix = f"ORD{sim.options.seed % 1000:03d}"
    for index in range(count):
        product = PRODUCTS[index % len(PRODUCTS)]
        number = f"{prefix}-{index + 1:05d}"
        if conn.execute("SELECT 1 FROM work_orders WHERE number = %s", (number,)).fetchone():
            conn.execute("UPDATE work_orders SET number = number || '-' || id WHERE number = %s", (number,))
        planned = round(minutes * 60 / ideal_cycle_time(product) * 0.9, -2)
        orders.create_order(conn, number, "line1", product.id, planned, by="demo",
                            due_at=start + timedelta(minutes=minutes * (index + 1.25)))  # fmt: skip


def shift_summary(conn, plant, start: datetime, end: datetime) -> dict:
    """Per line and machine: OEE and its factors, counts, top downtime reasons; per shift."""
    from mes.production import kpi, root_cause
    from mes.production.equipment import work_units

    units = {}
    for unit in work_units(plant):
        rows = kpi.kpis(conn, unit.id, start, end, by="shift")
        total = kpi.period_kpi(conn, unit.id, start, end)
        pareto = kpi.downtime_pareto(conn, unit.id, start, end)[:3]
        units[unit.id] = {"shifts": rows, "total": total, "top_reasons": pareto}
        if unit.id == unit.line_id and root_cause.line_flow(conn, unit.id) is not None:
            units[unit.id]["root_cause"] = root_cause.pareto(conn, unit.id, start, end, by="fault")[:3]
    return units


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _kpi_line(row: dict) -> str:
    return (f"OEE {_pct(row['oee'])} = availability {_pct(row['availability'])} × performance "
            f"{_pct(row['effectiveness'])} × quality {_pct(row['quality_ratio'])}   "
            f"good {row['gq']:.0f}  scrap {row['sq']:.0f}")


def print_summary(summary: dict, start: datetime, end: datetime, timezone: str = "UTC") -> None:
    """Per line and machine: OEE with its factors and counts (per shift when the run spans
    several), and the top downtime reasons, in plant time."""
    from mes.cli.kpi import period_title, warn_implausible

    console.print(f"\n[bold]Shift summary[/] {period_title('', start, end, timezone).strip()}", highlight=False)
    for unit_id, data in summary.items():
        total = data["total"]
        console.print(f"\n[bold]{unit_id}[/]  {_kpi_line(total)}", highlight=False)
        if len(data["shifts"]) > 1:
            for row in data["shifts"]:
                console.print(f"  shift {row['group_label']:<18} {_kpi_line(row)}", highlight=False)
        reasons = "; ".join(f"{r['reason_name']} {r['seconds'] / 60:.1f} min ({r['events']}×)"
                            for r in data["top_reasons"]) or "none"
        console.print(f"  top downtime: {reasons}", highlight=False)
        if "root_cause" in data:
            causes = "; ".join(f"{_cause(r)} {r['seconds'] / 60:.1f} min" for r in data["root_cause"]) or "none"
            console.print(f"  stopped by: {causes}", highlight=False)
        console.print(f"  PBT {total['pbt'] / 60:.0f} min, APT {total['apt'] / 60:.0f} min, "
                      f"ADET {total['adet'] / 60:.1f} min, minor stops {total['minor_stops']} "
                      f"(counted as {total['minor_stop_loss']} loss)", highlight=False)
        warn_implausible(unit_id, total)


def _cause(row: dict) -> str:
    """``labeller · 102``: a root-cause Pareto row's machine and fault code."""
    machine = row["machine"] or "unknown"
    return machine if row["fault_code"] is None else f"{machine} · {row['fault_code']}"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
