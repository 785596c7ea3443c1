"""Prometheus metrics of a running collector, and the endpoint that serves them.

The figures live in plain stats objects (pipeline, store, workers' health); a
custom collector reads them at scrape time, so the hot path pays nothing for
metrics. ``linebrain status`` reads the same endpoint, so the terminal and
Grafana/Prometheus always agree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from collectors.store.stats import LATENCY_BOUNDS

HealthSource = Callable[[], list[dict[str, Any]]]


class CollectorMetrics(Collector):
    """Turns a pipeline's, a store's and the workers' figures into metric families."""

    def __init__(self, pipeline: Any, health: HealthSource | None = None,
                 extra: Callable[[], Iterator[Any]] | None = None) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.health = health or (lambda: [])
        self.extra = extra  # more families (the publishing side of collect --publish-also)

    def collect(self) -> Iterator[Any]:
        yield from self._connections()
        yield from self._pipeline()
        yield from self._store()
        if self.extra is not None:
            yield from self.extra()

    def _connections(self) -> Iterator[Any]:
        up = GaugeMetricFamily("linebrain_connection_up", "1 when the connection is connected", labels=["connection"])
        samples = CounterMetricFamily("linebrain_connection_samples", "samples read", labels=["connection"])
        bad = CounterMetricFamily("linebrain_connection_bad_samples", "bad-quality samples", labels=["connection"])
        overruns = CounterMetricFamily("linebrain_connection_overruns", "poll cycles skipped because a read overran",
                                       labels=["connection"])  # fmt: skip
        for health in self.health():
            name = str(health.get("connection", "?"))
            groups = health.get("groups", {}).values()
            driver = health.get("driver", {})
            # The worker only learns of a lost connection from a failed read; an OPC UA driver holding only
            # subscriptions finds out itself (its watchdog), so its own state counts too.
            driver_up = driver.get("state", "connected") == "connected" if driver.get("protocol") == "opcua" else True
            up.add_metric([name], 1.0 if health.get("connected") and driver_up else 0.0)
            # Polled samples are counted per group by the worker; subscribed ones are pushed by the
            # driver itself (OPC UA notifications), so they are added from its health, and so are the bad
            # ones it emits (bad notifications, BadNoCommunication for every subscribed tag on a lost link).
            pushed = driver.get("notifications", 0)
            samples.add_metric([name], float(sum(g.get("samples", 0) for g in groups) + pushed))
            bad.add_metric([name], float(sum(g.get("bad_samples", 0) for g in groups) + driver.get("bad_samples", 0)))
            overruns.add_metric([name], float(health.get("overruns", 0)))
        yield from (up, samples, bad, overruns)

    def _pipeline(self) -> Iterator[Any]:
        stats = self.pipeline.stats
        store = self.pipeline.store.stats
        yield CounterMetricFamily("linebrain_samples_in", "readings handed to the pipeline", value=stats.samples_in)
        yield CounterMetricFamily("linebrain_samples_suppressed", "readings dropped by report-by-exception",
                                  value=stats.samples_suppressed)  # fmt: skip
        yield CounterMetricFamily("linebrain_samples_restamped", "readings filed at their receive time: source "
                                  "time not after the tag's last sample", value=stats.samples_restamped)  # fmt: skip
        dropped = CounterMetricFamily("linebrain_samples_dropped", "readings lost", labels=["reason"])
        dropped.add_metric(["queue_full"], stats.samples_dropped_queue_full)
        dropped.add_metric(["spool_full"], store.rows_dropped_spool_full)
        dropped.add_metric(["disk_full"], store.rows_dropped_disk_full)
        dropped.add_metric(["quarantined"], store.rows_quarantined)
        yield dropped
        yield GaugeMetricFamily("linebrain_queue_depth", "samples waiting for the batcher", value=stats.queue_depth)
        yield GaugeMetricFamily("linebrain_queue_capacity", "queue limit in samples", value=stats.queue_max)
        yield GaugeMetricFamily("linebrain_samples_in_per_second", "readings per second accepted (10 s window)",
                                value=stats.in_rate.rate(stats.samples_in))  # fmt: skip

    def _store(self) -> Iterator[Any]:
        store = self.pipeline.store
        stats = store.stats
        validation = store.encoder.validation
        yield CounterMetricFamily("linebrain_samples_stored", "rows committed", value=stats.rows_committed)
        yield GaugeMetricFamily("linebrain_samples_per_second", "rows committed per second (10 s window)",
                                value=stats.committed_rate.rate(stats.rows_committed))  # fmt: skip
        rejected = CounterMetricFamily("linebrain_samples_rejected", "samples refused by validation",
                                       labels=["reason"])  # fmt: skip
        for reason, count in validation.rejected.items():
            rejected.add_metric([reason], count)
        yield rejected
        flagged = CounterMetricFamily("linebrain_samples_flagged", "samples stored with a bad status by validation",
                                      labels=["reason"])  # fmt: skip
        for reason, count in validation.flagged.items():
            flagged.add_metric([reason], count)
        yield flagged
        yield CounterMetricFamily("linebrain_batches_committed", "batches committed", value=stats.batches_committed)
        yield CounterMetricFamily("linebrain_batches_skipped", "replayed batches already in the ledger",
                                  value=stats.batches_skipped)  # fmt: skip
        yield CounterMetricFamily("linebrain_batches_quarantined", "batches the database refused for content",
                                  value=stats.batches_quarantined)  # fmt: skip
        yield CounterMetricFamily("linebrain_rollup_refresh_failures", "rollup refreshes the database refused",
                                  value=stats.rollup_failures)  # fmt: skip
        failing = GaugeMetricFamily("linebrain_rollup_refresh_failing", "1 while rollup refreshes fail, with the error",
                                    labels=["error"])  # fmt: skip
        if stats.rollup_error:
            failing.add_metric([stats.rollup_error[:300]], 1.0)
        yield failing
        yield GaugeMetricFamily("linebrain_database_up", "1 when the last write reached the database",
                                value=1.0 if stats.database_up else 0.0)  # fmt: skip
        if stats.flavour:
            flavour = GaugeMetricFamily("linebrain_database_info", "the database's flavour (always 1)",
                                        labels=["flavour"])  # fmt: skip
            flavour.add_metric([stats.flavour], 1.0)
            yield flavour
        yield GaugeMetricFamily("linebrain_spool_bytes", "bytes in the spool", value=store.spool.size_bytes())
        yield GaugeMetricFamily("linebrain_spool_limit_bytes", "spool size limit", value=store.spool.max_bytes)
        yield GaugeMetricFamily("linebrain_spool_batches", "batches spooled, not yet committed",
                                value=store.pending_batches())  # fmt: skip
        yield GaugeMetricFamily("linebrain_spool_near_full", "1 when the spool is at 80% of its limit or more",
                                value=1.0 if stats.spool_near_full else 0.0)  # fmt: skip
        yield GaugeMetricFamily("linebrain_batch_flush_seconds", "last batch: spooled → committed",
                                value=stats.last_flush_seconds)  # fmt: skip
        yield GaugeMetricFamily("linebrain_batch_commit_seconds", "last batch: duration of its COPY transaction",
                                value=stats.last_commit_seconds)  # fmt: skip
        yield self._latency(stats.latency)

    @staticmethod
    def _latency(latency: Any) -> HistogramMetricFamily:
        with latency._lock:
            counts = list(latency.counts)
            total_sum = latency.sum
        buckets, running = [], 0
        for bound, count in zip(LATENCY_BOUNDS, counts, strict=True):
            running += count
            if bound in (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 60.0) or bound == float("inf"):
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return HistogramMetricFamily("linebrain_sample_latency_seconds", "source time → committed row, per sample",
                                     buckets=buckets, sum_value=total_sum)  # fmt: skip


def serve_metrics(collector: Collector, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, int]:
    """Start the HTTP endpoint in a thread; returns (server, port). Port 0 picks a free one."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, int(server.server_port)


# ---------------------------------------------------------------------- discovery for `linebrain status`


def runtime_dir() -> Path:
    from collectors.database.embedded import default_data_dir

    return default_data_dir() / "run"


def announce(role: str, url: str, folder: Path | None = None) -> Path:
    """Write where this process serves metrics, so ``linebrain status`` can find it."""
    folder = folder or runtime_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{role}-{os.getpid()}.json"
    path.write_text(json.dumps({"pid": os.getpid(), "role": role, "metrics_url": url}))
    return path


def running_processes(folder: Path | None = None) -> list[dict[str, Any]]:
    """Announced processes that are still alive (stale files are removed)."""
    folder = folder or runtime_dir()
    found: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            info = json.loads(path.read_text())
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            continue
        except (OSError, ValueError, KeyError):
            continue
        found.append(info)
    return found
