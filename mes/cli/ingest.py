"""``linebrain ingest``: store what Sparkplug B edge nodes (and plain JSON topics) publish to the broker."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from mes.cli.collect import LogLevel, configure_logging
from mes.cli.common import ConfigPath, DatabaseUrl, DataDir, err_console, load_config_or_exit

log = logging.getLogger("linebrain.ingest")


def ingest(
    config: ConfigPath,
    name: Annotated[str, typer.Option("--name", help="This ingest process's name: its MQTT client id and spool "
                                      "folder (each process of a shared group needs its own).")] = "ingest",
    host_id: Annotated[str | None, typer.Option("--host-id", help="Sparkplug host id of its STATE (default: "
                                                "mqtt.host_id).", show_default=False)] = None,
    spool_dir: Annotated[Path | None, typer.Option("--spool-dir", help="Spool folder (default: <storage.spool_dir "
                                                   "or <data dir>/spool>/<name>).", show_default=False)] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    log_level: LogLevel = "info",
) -> None:
    """Subscribe to the config's MQTT broker as a Sparkplug B host and store every sample exactly once,
    until SIGTERM/Ctrl-C. Several processes with different --name split the load (shared subscription).

    Example: linebrain ingest plant.yaml --name ingest-1
    """
    from collectors.mqtt import SparkplugHost
    from collectors.service import spool_folder
    from collectors.store import SampleStore
    from mes.cli.collect import _one_line_errors
    from mes.cli.common import migrated_database_url

    configure_logging(log_level)
    plant = load_config_or_exit(config)
    if plant.mqtt is None:
        err_console.print(f"{config}: no mqtt: section (the broker to ingest from)")
        raise typer.Exit(2)
    with _one_line_errors():
        url = migrated_database_url(database_url, data_dir)
        folder = spool_dir or spool_folder(plant.storage.spool_dir, config, name, data_dir)
        store = SampleStore.for_plant(plant, url, spool_dir=folder, source=f"ingest:{name}")
        host = SparkplugHost(plant, store, name=name, host_id=host_id)
        host.start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    log.info("stopping: %d messages, %d samples spooled", host.stats.messages, host.stats.samples)
    host.stop()


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
