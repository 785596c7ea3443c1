"""Publishing beside the database (``collect --publish-also``): the stored samples, live, to the broker.

The database store stays the source of truth: the pipeline's batcher spools
each batch for the database first, then hands the same samples (as filed:
after report by exception and re-stamping) to :class:`PublishBeside`, which
only appends them to a short in-memory queue and returns. Its own thread writes
them into a :class:`~collectors.mqtt.edge.SparkplugEdge` with its own bounded
spool folder, which publishes them exactly as ``collect --publish`` does
(births, aliases, ``seq``, ``bdSeq``, rebirths, re-sends after a reconnect).

So a broker that is away costs the database path nothing: the edge's spool
fills instead, up to ``mqtt.publish_spool_mb``. Beyond that (or when the
hand-over queue is full because the publishing side cannot even spool fast
enough) batches are not published: counted, logged as an error and shown by
``linebrain status`` and the metrics (``linebrain_publish_dropped``). The
database has them all the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from collectors.config.models import Plant, Tag
from collectors.mqtt.edge import SparkplugEdge
from collectors.samples import Sample

log = logging.getLogger("linebrain.mqtt.beside")

QUEUE_MAX_BATCHES = 64  # batches handed over, not yet in the edge's spool (≈ a minute at one batch a second)
_DROP_LOG_INTERVAL_S = 10.0


class PublishBeside:
    """Hands the database's batches to a Sparkplug B edge node without ever making the caller wait."""

    def __init__(self, edge: SparkplugEdge, *, queue_max_batches: int = QUEUE_MAX_BATCHES) -> None:
        self.edge = edge
        self.queue_max_batches = queue_max_batches
        self.rows_dropped_queue_full = 0
        self._queue: deque[list[Sample]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_drop_log = float("-inf")

    @classmethod
    def for_node(cls, plant: Plant, node: str, tags: list[Tag], spool_dir: Path) -> PublishBeside:
        """The publisher of node ``node``; its spool is ``spool_dir``, sized by ``mqtt.publish_spool_mb``."""
        edge = SparkplugEdge.for_node(plant, node, tags, spool_dir,
                                      spool_max_mb=plant.mqtt.publish_spool_mb if plant.mqtt else None,
                                      needs_subscriber=False)  # fmt: skip
        return cls(edge)

    @property
    def rows_dropped_spool_full(self) -> int:
        return self.edge.stats.rows_dropped_spool_full + self.edge.stats.rows_dropped_disk_full

    @property
    def rows_not_published(self) -> int:
        """Samples the database got but the broker never will (this run)."""
        return self.rows_dropped_queue_full + self.rows_dropped_spool_full

    @property
    def broker_up(self) -> bool:
        """Connected, and the last publish reached the broker."""
        return self.edge.connected and self.edge.stats.database_up

    def start(self) -> None:
        self.edge.start()
        self._thread = threading.Thread(target=self._spool_loop, name="linebrain-publish-beside", daemon=True)
        self._thread.start()

    def offer(self, samples: list[Sample]) -> None:
        """Queue one batch for publishing; returns at once (a full queue drops it, counted and logged)."""
        with self._cond:
            if len(self._queue) < self.queue_max_batches and not self._stopping:
                self._queue.append(samples)
                self._cond.notify_all()
                return
        self.rows_dropped_queue_full += len(samples)
        now = time.monotonic()
        if now - self._last_drop_log > _DROP_LOG_INTERVAL_S:
            self._last_drop_log = now
            log.error("PUBLISH QUEUE FULL: %d samples NOT published so far (they are in the database); the "
                      "edge node's spool %s cannot keep up", self.rows_dropped_queue_full,
                      self.edge.spool.folder)  # fmt: skip

    def _spool_loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue.popleft()
            try:
                self.edge.write(batch)  # a full spool counts and logs the drop itself
            except Exception:  # the publishing side must live on
                log.exception("could not spool a batch of %d samples for publishing", len(batch))

    def close(self, timeout: float = 10.0) -> bool:
        """Spool what was handed over, publish for up to ``timeout`` s, then NDEATH. What is left stays in the
        edge's spool and is published on the next start. True when everything was published."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        published_all = self.edge.close(timeout)
        if self.rows_not_published:
            log.warning("samples NOT published by this run (they are in the database): %d dropped with the "
                        "publish queue full, %d with the publish spool full", self.rows_dropped_queue_full,
                        self.rows_dropped_spool_full)  # fmt: skip
        return published_all

    def metric_families(self) -> Iterator[Any]:
        """The publishing side's figures for the collector's metrics endpoint (and ``linebrain status``)."""
        stats = self.edge.stats
        yield GaugeMetricFamily("linebrain_publish_broker_up", "1 when the last publish reached the broker",
                                value=1.0 if self.broker_up else 0.0)  # fmt: skip
        yield CounterMetricFamily("linebrain_samples_published", "samples the broker acknowledged",
                                  value=stats.rows_committed)  # fmt: skip
        yield GaugeMetricFamily("linebrain_publish_spool_batches", "batches waiting for the broker",
                                value=self.edge.pending_batches())  # fmt: skip
        dropped = CounterMetricFamily("linebrain_publish_dropped", "samples stored but not published",
                                      labels=["reason"])  # fmt: skip
        dropped.add_metric(["queue_full"], self.rows_dropped_queue_full)
        dropped.add_metric(["spool_full"], self.rows_dropped_spool_full)
        yield dropped
