"""The collector process: workers → pipeline → store, metrics, clean shutdown.

:class:`CollectorService` runs the connection workers of a plant config (or of
a shard of it: some connections), the pipeline and the store, the rollup
refresher and the metrics endpoint, in one asyncio loop plus the store's
threads. ``linebrain collect`` runs it alone; ``linebrain run`` runs it with the
MES jobs passed in ``jobs`` (async callables that get the stop event).

On SIGTERM or SIGINT the workers stop after their read in progress, the pipeline
batches and spools everything queued, and the store sends what it can within
``stop_timeout``; whatever is left stays in the spool and goes first on the next
start. Nothing read is lost, nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collectors.config.models import ModbusConnection, OpcuaConnection, Plant, S7Connection, Tag
from collectors.drivers.base import SampleSink
from collectors.metrics import CollectorMetrics, announce, serve_metrics
from collectors.pipeline import Pipeline, SampleListener
from collectors.setpoint_queue import SetpointQueue, writable_tags
from collectors.store.latest import last_stored_samples
from collectors.store.rollups import RollupRefresher
from collectors.store.sample_store import SampleStore, default_spool_dir
from collectors.worker import ConnectionWorker

if TYPE_CHECKING:
    from collectors.mqtt.beside import PublishBeside

log = logging.getLogger("linebrain.collect")

DEFAULT_METRICS_PORT = 9464
BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
WorkerFactory = Callable[[ModbusConnection | OpcuaConnection | S7Connection, list[Tag], SampleSink], ConnectionWorker]


def default_worker(
    connection: ModbusConnection | OpcuaConnection | S7Connection, tags: list[Tag], sink: SampleSink
) -> ConnectionWorker:
    """The worker and driver of a connection's protocol (each driver package owns its client).

    OPC UA subscriptions push into ``sink`` themselves; the worker polls the polled
    groups and owns reconnects for both protocols.
    """
    if isinstance(connection, ModbusConnection):
        from collectors.drivers.modbus import modbus_worker

        return modbus_worker(connection, tags, sink)
    if isinstance(connection, S7Connection):
        from collectors.drivers.s7 import s7_worker

        return s7_worker(connection, tags, sink)
    from collectors.drivers.opcua import OpcuaDriver

    group_tags: dict[str, list[str]] = {}
    for tag in tags:
        if tag.mode == "poll":
            group_tags.setdefault(tag.group, []).append(tag.name)
    intervals = {group.name: group.interval for group in connection.poll_groups}
    return ConnectionWorker(OpcuaDriver(connection, tags, sink), intervals, sink, group_tags=group_tags,
                            connect_timeout=connection.timeout + 10.0)  # fmt: skip


@dataclass
class ServiceOptions:
    connections: Sequence[str] | None = None  # None: every connection of the config
    spool_dir: Path | None = None  # default: <data dir>/spool/<name>
    name: str = "collect"  # names the spool folder and the status announcement
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = DEFAULT_METRICS_PORT  # 0: any free port; None: no endpoint
    rollup_interval: float = 30.0
    stop_timeout: float = 10.0
    announce: bool = True
    publish: bool = False  # publish to the config's MQTT broker (Sparkplug B edge node) instead of the database
    publish_also: bool = False  # store into the database AND publish the same samples (collectors/mqtt/beside.py)


class CollectorService:
    """One collector process. ``await service.run()`` until SIGTERM or ``stop()``."""

    def __init__(
        self,
        plant: Plant,
        database_url: str,
        options: ServiceOptions | None = None,
        *,
        worker_factory: WorkerFactory = default_worker,
    ) -> None:
        self.plant = plant
        self.database_url = database_url
        self.options = options or ServiceOptions()
        self.worker_factory = worker_factory
        self.connections = self._chosen_connections()
        self.workers: list[ConnectionWorker] = []
        self.pipeline: Pipeline | None = None
        self.metrics_port: int | None = None
        self.setpoints: SetpointQueue | None = None
        self.publisher: PublishBeside | None = None
        self.started = asyncio.Event()
        self._stop: asyncio.Event | None = None

    def _chosen_connections(self) -> list[ModbusConnection | OpcuaConnection | S7Connection]:
        wanted = self.options.connections
        if wanted is None:
            return list(self.plant.connections)
        known = {conn.id for conn in self.plant.connections}
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise ValueError(f"unknown connection(s) {', '.join(unknown)}; the config has {', '.join(sorted(known))}")
        return [conn for conn in self.plant.connections if conn.id in set(wanted)]

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def run(self, jobs: Sequence[BackgroundJob] = (), listeners: Sequence[SampleListener] = ()) -> None:
        """Collect until stopped; then flush or spool what is in flight. ``listeners`` see the live
        readings (:meth:`Pipeline.add_listener`)."""
        self._stop = asyncio.Event()
        self._handle_signals()
        options = self.options
        spool_dir = options.spool_dir or default_spool_dir() / options.name
        store = await asyncio.to_thread(self._store, spool_dir)
        self.pipeline = pipeline = Pipeline.from_storage(store, self._tags(), self.plant.storage)
        for listener in listeners:
            pipeline.add_listener(listener)
        if options.publish_also and not options.publish:
            self.publisher = await asyncio.to_thread(self._publisher, spool_dir)
            pipeline.add_batch_listener(self.publisher.offer)
            self.publisher.start()
        if not options.publish:  # an edge node has no database to ask
            pipeline.seed(await asyncio.to_thread(last_stored_samples, self.database_url,
                                                  [tag.name for tag in self._tags()]))  # fmt: skip
        pipeline.start()
        refresher = RollupRefresher(self.database_url, options.rollup_interval,
                                    storage=self.plant.storage, stats=store.stats)  # fmt: skip
        if not options.publish:
            refresher.start()
        self.workers = [self.worker_factory(conn, self.plant.tags_of(conn.id), pipeline.sink)
                        for conn in self.connections]  # fmt: skip
        server, announcement = self._serve_metrics(pipeline)
        tasks = [asyncio.create_task(w.run(), name=f"worker-{w.driver.connection_id}") for w in self.workers]
        tasks += [asyncio.create_task(job(self._stop), name=f"job-{index}") for index, job in enumerate(jobs)]
        # Setpoint writes reach the drivers only through this queue, and only when a tag is writable.
        writable = writable_tags(self._tags(), {w.driver.connection_id: w.driver for w in self.workers})
        if writable:
            self.setpoints = SetpointQueue(self.database_url, writable, options.name)
            tasks.append(asyncio.create_task(self.setpoints.run(self._stop), name="setpoint-writes"))
        target = (f"MQTT broker {self.plant.mqtt.url}" if options.publish and self.plant.mqtt
                  else _safe_url(self.database_url))  # fmt: skip
        if self.publisher is not None and self.plant.mqtt:
            target += f", publishing also to MQTT broker {self.plant.mqtt.url} ({self.publisher.edge.spool.folder})"
        log.info("collecting %d connections (%d tags) into %s; spool %s", len(self.workers),
                 len(self._tags()), target, spool_dir)  # fmt: skip
        self.started.set()
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: finishing reads, spooling and sending what is in flight")
            for worker in self.workers:
                worker.stop()
            done, pending = await asyncio.wait(tasks, timeout=options.stop_timeout) if tasks else (set(), set())
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.error("%s ended with %r", task.get_name(), task.exception())
            sent_all = await asyncio.to_thread(pipeline.stop, options.stop_timeout)
            if self.publisher is not None:  # the database first; what is not published waits in its own spool
                await asyncio.to_thread(self.publisher.close, min(options.stop_timeout, 5.0))
            if not options.publish:
                refresher.stop()
            if server is not None:
                server.shutdown()
            if announcement is not None:
                announcement.unlink(missing_ok=True)
            log.info("stopped (%s)", "everything spooled was sent" if sent_all else "the rest waits in the spool")
            _report_losses(pipeline)

    def _store(self, spool_dir: Path) -> SampleStore:
        """The database's sample store, or with ``publish`` the Sparkplug B edge node (same spool rules)."""
        if self.options.publish:
            from collectors.mqtt.edge import SparkplugEdge

            return SparkplugEdge.for_node(self.plant, self.options.name, self._tags(), spool_dir)
        return SampleStore.for_plant(self.plant, self.database_url, spool_dir=spool_dir, source=self.options.name)

    def _publisher(self, spool_dir: Path) -> PublishBeside:
        """The Sparkplug B edge node beside the database store, with its own spool folder under the store's."""
        from collectors.mqtt.beside import PublishBeside

        return PublishBeside.for_node(self.plant, self.options.name, self._tags(), spool_dir / "mqtt-publish")

    def _tags(self) -> list[Tag]:
        ids = {conn.id for conn in self.connections}
        return [tag for tag in self.plant.tags if tag.connection in ids]

    def _serve_metrics(self, pipeline: Pipeline) -> tuple[Any, Path | None]:
        if self.options.metrics_port is None:
            return None, None
        metrics = CollectorMetrics(pipeline, lambda: [worker.health() for worker in self.workers],
                                   extra=self.publisher.metric_families if self.publisher else None)  # fmt: skip
        try:
            server, port = serve_metrics(metrics, self.options.metrics_host, self.options.metrics_port)
        except OSError as exc:
            log.warning("metrics port %s busy (%s); serving on a free port instead", self.options.metrics_port, exc)
            server, port = serve_metrics(metrics, self.options.metrics_host, 0)
        self.metrics_port = port
        url = f"http://{self.options.metrics_host}:{port}/metrics"
        log.info("metrics at %s", url)
        announcement = announce(self.options.name, url) if self.options.announce else None
        return server, announcement

    def _handle_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self.stop)


def _report_losses(pipeline: Pipeline) -> None:
    """At shutdown, say what this run did not store, so "everything sent" is never the whole story."""
    store = pipeline.store.stats
    losses = {
        "quarantined (refused by the database)": store.rows_quarantined,
        "dropped: spool full": store.rows_dropped_spool_full,
        "dropped: disk full": store.rows_dropped_disk_full,
        "dropped: queue full": pipeline.stats.samples_dropped_queue_full,
    }
    lost = {reason: count for reason, count in losses.items() if count}
    if lost:
        summary = ", ".join(f"{count} {reason}" for reason, count in lost.items())
        log.warning("samples NOT stored by this run: %s", summary)


def spool_folder(configured: str | None, config_file: Path, name: str, data_dir: Path | None = None) -> Path:
    """The spool folder of one collector process: ``<base>/<name>``, where the base is the config's
    ``storage.spool_dir`` (relative to the config file's folder, ``~`` expanded), else ``<data dir>/spool``.
    One folder per process name, because a spool folder is locked by the process using it."""
    if configured:
        base = Path(configured).expanduser()
        if not base.is_absolute():
            base = config_file.resolve().parent / base
    elif data_dir is not None:
        base = data_dir / "spool"
    else:
        base = default_spool_dir()
    return base / name


def _safe_url(url: str) -> str:
    """A database URL without its password, for logs."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
