"""``linebrain collect``, ``run``, ``import`` and ``status``: getting samples in, and seeing how it goes.

``run`` is ``collect`` plus the MES jobs. **Hook for MES derivation jobs:** a
module named in :data:`MES_JOB_MODULES` exposes
``jobs(plant, database_url) -> list[BackgroundJob]``, where a job is
``async def job(stop: asyncio.Event) -> None`` that works until ``stop`` is set
(state intervals, counts, alarms...). ``run`` starts them next to the
collectors in the same loop and waits for them on shutdown.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mes.cli.common import ConfigPath, DatabaseUrl, DataDir, console, err_console, load_config_or_exit

# Modules with MES background jobs for `linebrain run` (each defines jobs(plant, database_url)).
MES_JOB_MODULES: list[str] = ["mes.jobs", "mes.quality.jobs", "mes.alarms.jobs", "mes.grafana.cache",
                              "mes.grafana.watchdog", "mes.reports.schedule", "mes.routing.jobs",
                              "mes.recipes.jobs", "mes.uns.jobs"]

Connections = Annotated[
    str | None,
    typer.Option("--connections", help="Only these connection ids (comma-separated): one shard of the plant.",
                 show_default=False),
]  # fmt: skip
MetricsPort = Annotated[
    int, typer.Option("--metrics-port", help="Prometheus endpoint port on 127.0.0.1 (0: any free port).")
]
SpoolDir = Annotated[
    Path | None,
    typer.Option("--spool-dir", help="Spool folder (default: <storage.spool_dir or <data dir>/spool>/<config>"
                 "[-<connections>]).",
                 show_default=False),
]  # fmt: skip


LogLevel = Annotated[
    str, typer.Option("--log-level", help="Level of LineBrain's own log lines (debug, info, warning, error); "
                      "libraries (asyncua, pymodbus, psycopg) log at warning or above.")
]  # fmt: skip
OWN_LOGGERS = ("linebrain", "collectors", "mes", "simulator")


def configure_logging(level: str = "info") -> None:
    """LineBrain's own loggers at ``level``, everything else (library chatter: asyncua logs kilobytes of
    certificate bytes per connect at INFO) at WARNING, or at ``level`` when that is stricter."""
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        err_console.print(f"--log-level: unknown level {level!r}; use debug, info, warning or error")
        raise typer.Exit(2)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(max(number, logging.WARNING))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(number)


@contextlib.contextmanager
def _one_line_errors() -> Iterator[None]:
    """An unreachable database or a spool held by another process is one clear line and exit 1, not a
    traceback: both are situations an operator fixes, not bugs."""
    import psycopg

    from collectors.errors import LineBrainError

    try:
        yield
    except psycopg.OperationalError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        err_console.print(f"database unreachable: {first}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except LineBrainError as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _service(config: Path, connections: str | None, metrics_port: int, spool_dir: Path | None,
             database_url: str | None, data_dir: Path | None, role: str, publish: bool = False,
             publish_also: bool = False):  # fmt: skip
    from collectors.service import CollectorService, ServiceOptions, spool_folder

    plant = load_config_or_exit(config)
    if data_dir is not None:  # the drivers keep their PKI and session files under the data dir
        os.environ["LINEBRAIN_DATA_DIR"] = str(data_dir)
    chosen = [c.strip() for c in connections.split(",") if c.strip()] if connections else None
    name = config.stem + (f"-{'-'.join(sorted(chosen))}" if chosen else "")
    if spool_dir is None:
        spool_dir = spool_folder(plant.storage.spool_dir, config, name, data_dir)
    if (publish or publish_also) and plant.mqtt is None:
        flag = "--publish" if publish else "--publish-also"
        err_console.print(f"{config}: {flag} needs an mqtt: section naming the broker")
        raise typer.Exit(2)
    if publish and publish_also:
        err_console.print("--publish (broker instead of the database) and --publish-also (both) exclude each other")
        raise typer.Exit(2)
    options = ServiceOptions(connections=chosen, spool_dir=spool_dir, name=f"{role}-{name}",
                             metrics_port=metrics_port, publish=publish, publish_also=publish_also)  # fmt: skip
    url = "" if publish else _collector_database_url(database_url, data_dir)
    try:
        return plant, url, CollectorService(plant, url, options)
    except ValueError as exc:
        err_console.print(str(exc))
        raise typer.Exit(2) from None


def _collector_database_url(database_url: str | None, data_dir: Path | None) -> str:
    """The migrated database URL; when a given database is unreachable, the URL anyway: the
    collector then spools with the tag ids it remembers and catches up when it is back."""
    import psycopg

    from mes.cli.common import database_url as resolve
    from mes.cli.common import migrated_database_url

    try:
        return migrated_database_url(database_url, data_dir)
    except psycopg.OperationalError as exc:
        url = resolve(database_url, data_dir)
        err_console.print(f"database unreachable, collecting into the spool until it is back: {exc}")
        return url


def collect(
    config: ConfigPath,
    connections: Connections = None,
    metrics_port: MetricsPort = 9464,
    spool_dir: SpoolDir = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    log_level: LogLevel = "info",
    publish: Annotated[bool, typer.Option("--publish", help="Publish to the config's MQTT broker as a Sparkplug B "
                                          "edge node instead of writing to the database (docs/mqtt.md).")] = False,
    publish_also: Annotated[bool, typer.Option("--publish-also", help="Write to the database AND publish the same "
                                               "samples as a Sparkplug B edge node; the broker being away never "
                                               "holds up the database (docs/mqtt.md).")] = False,
) -> None:
    """Run the collectors of a plant config and store their samples, until SIGTERM/Ctrl-C.

    Examples: linebrain collect plant.yaml — linebrain collect plant.yaml --connections plc1,plc2
    — linebrain collect plant.yaml --connections plc3 --publish — linebrain collect plant.yaml --publish-also
    """
    import asyncio

    configure_logging(log_level)
    _plant, _url, service = _service(config, connections, metrics_port, spool_dir, database_url, data_dir, "collect",
                                     publish, publish_also)  # fmt: skip
    with _one_line_errors():
        asyncio.run(service.run())


def run(
    config: ConfigPath,
    metrics_port: MetricsPort = 9464,
    spool_dir: SpoolDir = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    serve: Annotated[bool, typer.Option("--serve", help="Serve the API and pages too (the config's web: "
                                        "section), for a single-host plant.")] = False,
    log_level: LogLevel = "info",
    clock_start: Annotated[str | None, typer.Option(
        "--clock-start", help="Run the plant clock from this moment (ISO 8601 with zone), for a demo or a test: "
        "derivation and the report schedule follow it (docs/simulator.md).", show_default=False)] = None,
    clock_speed: Annotated[float, typer.Option(
        "--clock-speed", help="With --clock-start: simulated seconds per wall second (60: an hour a minute).")] = 1.0,
) -> None:
    """Run everything for a plant in one process: collectors, store, metrics and the MES jobs
    (and with --serve the server of ``linebrain serve``).

    Examples: linebrain run plant.yaml — linebrain run plant.yaml --serve — linebrain run demo.yaml
    --clock-start 2026-03-04T05:55:00+01:00 --clock-speed 60
    """
    import asyncio

    configure_logging(log_level)
    _set_clock(clock_start, clock_speed)
    plant, url, service = _service(config, None, metrics_port, spool_dir, database_url, data_dir, "run")
    jobs = mes_jobs(plant, url)
    listeners = []
    from mes.alarms.evaluation import alarm_evaluation

    evaluation = alarm_evaluation(plant, url)  # rules judged on the live readings, not read back from the store
    if evaluation is not None:
        jobs.append(evaluation.job)
        listeners.append(evaluation.listen)
    if serve:
        from mes.cli.serve import serve_job

        jobs.append(serve_job(url, plant.web))
    with _one_line_errors():
        asyncio.run(service.run(jobs=jobs, listeners=listeners))


def _set_clock(start: str | None, speed: float) -> None:
    """``--clock-start``/``--clock-speed`` as the process's plant clock (:mod:`mes.clock`)."""
    from datetime import datetime

    from mes.bounds import check_number
    from mes.clock import SimulatedClock, set_plant_clock
    from mes.errors import InvalidInput

    if start is None:
        if speed != 1.0:
            err_console.print("--clock-speed: needs --clock-start (the moment the plant clock starts from)")
            raise typer.Exit(2)
        return
    try:
        check_number(speed, "--clock-speed", low=0, high=1e6, positive=True)
    except InvalidInput as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        err_console.print(f"--clock-start: not an ISO 8601 time with a zone (2026-03-04T05:55:00+01:00): {start!r}")
        raise typer.Exit(2)
    set_plant_clock(SimulatedClock(moment, speed))


def mes_jobs(plant: Any, database_url: str) -> list[Any]:
    """The MES background jobs of :data:`MES_JOB_MODULES` (the hook ``run`` offers the MES)."""
    jobs: list[Any] = []
    for module in MES_JOB_MODULES:
        jobs.extend(importlib.import_module(module).jobs(plant, database_url))
    return jobs


def import_(
    csv_file: Annotated[Path, typer.Argument(help="CSV with time,tag,value[,quality] rows.", show_default=False)],
    config: Annotated[Path, typer.Option("--config", "-c", help="Plant config naming the tags.", show_default=False)],
    batch_rows: Annotated[int, typer.Option("--batch-rows", help="Rows per batch.")] = 20_000,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Load historical samples from CSV, exactly once (re-running the same file stores nothing twice).

    Times are ISO 8601 (without an offset: the plant's time zone); quality is a status code or good/bad/uncertain.
    Example: linebrain import history.csv --config plant.yaml
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from collectors.store import import_csv
    from mes.cli.common import migrated_database_url

    plant = load_config_or_exit(config)
    if not csv_file.exists():
        err_console.print(f"{csv_file}: no such file")
        raise typer.Exit(2)
    with _one_line_errors():
        url = migrated_database_url(database_url, data_dir)
    columns = ("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with _one_line_errors(), Progress(*columns, console=err_console) as progress:
        task = progress.add_task(f"importing {csv_file.name}", total=csv_file.stat().st_size)
        result = import_csv(csv_file, plant, url, batch_rows=batch_rows,
                            progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"{result.rows_read} rows read, {result.rows_stored} stored in {result.batches} batches, "
                  f"{result.rows_already_stored} already stored, {result.rows_rejected} rejected")  # fmt: skip
    if result.rollup_error:
        err_console.print(f"rollup refresh failed (the rows are stored): {result.rollup_error}", markup=False)
    for reason, count in sorted(result.reasons.items()):
        console.print(f"  {count} × {reason}")
    _load_plant_into_mes(plant, url)
    console.print(f"plant config loaded; derive the samples with: linebrain derive --config {config}",
                  markup=False, highlight=False, soft_wrap=True)


def _load_plant_into_mes(plant: Any, url: str) -> None:
    """Lines, products and reasons known right after an import, so `orders create` works before `run`."""
    from datetime import UTC, datetime

    import psycopg

    from mes.production.sync import sync_plant

    with psycopg.connect(url, autocommit=True) as conn:
        sync_plant(conn, plant, datetime.now(UTC))


def status(
    url: Annotated[str | None, typer.Option("--url", help="Metrics URL of a collector (default: every running one).",
                                            show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Show how running collectors are doing: connections, samples/s, queue, spool, batch latency.

    Example: linebrain status
    """
    from collectors.metrics import running_processes

    targets = [{"role": "collector", "metrics_url": url}] if url else running_processes()
    if not targets:
        err_console.print("no running collector found (start one with linebrain collect CONFIG)")
        raise typer.Exit(1)
    reports = []
    for target in targets:
        try:
            figures = read_status(target["metrics_url"])
        except OSError as exc:
            err_console.print(f"{target['metrics_url']}: {exc}")
            continue
        reports.append({"process": target.get("role"), "pid": target.get("pid"), **figures})
    if as_json:
        print(json.dumps(reports, indent=2))
    else:
        for report in reports:
            _print_status(report)
    if not reports:
        raise typer.Exit(1)


def read_status(metrics_url: str) -> dict[str, Any]:
    """The status figures, read from a collector's Prometheus endpoint."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(metrics_url, timeout=5) as answer:
        text = answer.read().decode()
    values: dict[str, float] = {}
    connections: dict[str, dict[str, float]] = {}
    latency: list[tuple[float, float]] = []
    flavour = ""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "connection" in sample.labels:
                connections.setdefault(sample.labels["connection"], {})[sample.name] = sample.value
            elif sample.name == "linebrain_database_info":
                flavour = sample.labels.get("flavour", "")
            elif sample.name == "linebrain_sample_latency_seconds_bucket":
                latency.append((float(sample.labels["le"]), sample.value))
            elif sample.name == "linebrain_rollup_refresh_failing":
                values["rollup_error"] = sample.labels.get("error", "")  # type: ignore[assignment]
            elif "reason" in sample.labels:
                key = f"{sample.name}{{{sample.labels['reason']}}}"
                values[key] = values.get(key, 0) + sample.value
            else:
                values[sample.name] = sample.value
    return {
        "metrics_url": metrics_url,
        "connections": {
            name: {"up": bool(f.get("linebrain_connection_up")),
                   "samples": int(f.get("linebrain_connection_samples_total", 0)),
                   "bad_samples": int(f.get("linebrain_connection_bad_samples_total", 0)),
                   "overruns": int(f.get("linebrain_connection_overruns_total", 0))}
            for name, f in connections.items()
        },
        "samples_per_second": values.get("linebrain_samples_per_second", 0.0),
        "samples_stored": int(values.get("linebrain_samples_stored_total", 0)),
        "queue_depth": int(values.get("linebrain_queue_depth", 0)),
        "queue_capacity": int(values.get("linebrain_queue_capacity", 0)),
        "spool_bytes": int(values.get("linebrain_spool_bytes", 0)),
        "spool_limit_bytes": int(values.get("linebrain_spool_limit_bytes", 0)),
        "spool_batches": int(values.get("linebrain_spool_batches", 0)),
        "spool_near_full": bool(values.get("linebrain_spool_near_full")),
        "database_up": bool(values.get("linebrain_database_up")),
        "rollup_refresh_failures": int(values.get("linebrain_rollup_refresh_failures_total", 0)),
        "rollup_error": values.get("rollup_error") or "",
        "database_flavour": flavour,
        "batch_flush_seconds": values.get("linebrain_batch_flush_seconds", 0.0),
        "latency_p50_seconds": _quantile(latency, 0.5),
        "latency_p99_seconds": _quantile(latency, 0.99),
        "dropped": {k.split("{")[1][:-1]: int(v) for k, v in values.items()
                    if k.startswith("linebrain_samples_dropped_total{")},
        "rejected": {k.split("{")[1][:-1]: int(v) for k, v in values.items()
                     if k.startswith("linebrain_samples_rejected_total{")},
        "publish": None if "linebrain_publish_broker_up" not in values else {
            "broker_up": bool(values["linebrain_publish_broker_up"]),
            "samples_published": int(values.get("linebrain_samples_published_total", 0)),
            "spool_batches": int(values.get("linebrain_publish_spool_batches", 0)),
            "dropped": {k.split("{")[1][:-1]: int(v) for k, v in values.items()
                        if k.startswith("linebrain_publish_dropped_total{")},
        },
    }


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    for bound, count in sorted(buckets):
        if count >= q * total:
            return bound
    return None


def _print_status(report: dict[str, Any]) -> None:
    console.print(f"[bold]{report['process']}[/] pid {report['pid']}  {report['metrics_url']}")
    table = Table("connection", "up", "samples", "bad", "overruns")
    for name, conn in sorted(report["connections"].items()):
        table.add_row(name, "yes" if conn["up"] else "[red]NO[/]", str(conn["samples"]), str(conn["bad_samples"]),
                      str(conn["overruns"]))  # fmt: skip
    console.print(table)
    spool_mb, limit_mb = report["spool_bytes"] / 2**20, report["spool_limit_bytes"] / 2**20
    near = "  [bold red]NEAR FULL[/]" if report["spool_near_full"] else ""
    p50, p99 = report["latency_p50_seconds"], report["latency_p99_seconds"]
    console.print(
        f"database {'up' if report['database_up'] else '[red]DOWN[/]'}"
        f"{' (' + report['database_flavour'] + ')' if report['database_flavour'] else ''}  "
        f"{report['samples_per_second']:.0f} samples/s stored ({report['samples_stored']} total)  "
        f"queue {report['queue_depth']}/{report['queue_capacity']}  "
        f"spool {spool_mb:.1f}/{limit_mb:.0f} MB ({report['spool_batches']} batches){near}  "
        f"batch flush {report['batch_flush_seconds']:.3f} s  "
        f"latency p50 {p50 if p50 is not None else '-'} s p99 {p99 if p99 is not None else '-'} s"
    )
    if report.get("rollup_error"):
        console.print(f"[red]rollup refresh FAILING[/] ({report['rollup_refresh_failures']} times): "
                      f"{escape(report['rollup_error'])}", highlight=False)  # fmt: skip
    lost = {k: v for k, v in report["dropped"].items() if v}
    if lost or report["rejected"]:
        console.print(f"dropped {lost or 0}  rejected {report['rejected'] or 0}")
    publish = report.get("publish")
    if publish:
        not_published = {k: v for k, v in publish["dropped"].items() if v}
        console.print(f"publishing also: broker {'up' if publish['broker_up'] else '[red]DOWN[/]'}  "
                      f"{publish['samples_published']} samples published  {publish['spool_batches']} batches waiting"
                      + (f"  [bold red]NOT published[/] {not_published}" if not_published else ""))  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)
    app.command("run")(run)
    app.command("import")(import_)
    app.command("status")(status)
