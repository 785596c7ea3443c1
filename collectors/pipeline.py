"""Drivers → report by exception → bounded queue → batcher → store.

:meth:`Pipeline.sink` is the :data:`~collectors.drivers.base.SampleSink` handed
to connection workers. It filters and enqueues and returns at once: it never
waits for the batcher, the spool or the database, so a driver's cycle is never
held up by storage. A batcher thread cuts the queue into batches when
``batch_max_rows`` samples are waiting or the oldest has waited
``batch_max_age_s`` (default 1 s) and hands them to the store, which spools
them (fsync) and returns; sending is the store's own thread.

Time of a sample: a sample is never filed before its tag's last stored sample.
One whose source time is not after it (an unchanged value coming back after a
network cut with its old source timestamp, a server clock stepping back) is
re-stamped: ``time`` becomes the receive time (at least 1 µs after the last
one) and the device's time is kept in ``source_time``. So a latest-value view
never shows an older reading after a newer one, and the order of rows per tag
is the order they were received in.

So a slow or absent database fills the spool, not the queue: the spool absorbs
it. The queue only fills if the batcher cannot even encode and fsync fast
enough; then the newest readings are dropped, counted and logged loudly —
blocking the driver instead would lose the same readings at the device and
skew every cycle's timing.

Listeners (:meth:`Pipeline.add_listener`) see every reading as it arrives,
before report by exception, so a subscriber (the MES alarm evaluation) judges
the live stream without reading the database. A listener must return at once
(hand the list to its own thread); one that raises is logged and kept.
Batch listeners (:meth:`Pipeline.add_batch_listener`) get each batch as it was
handed to the store (after report by exception and re-stamping, so with the
stored values and times), right after the store spooled it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from collectors.config.models import Storage, Tag
from collectors.deadband import ReportByException
from collectors.samples import Sample
from collectors.store.sample_store import SampleStore
from collectors.store.stats import PipelineStats

log = logging.getLogger("linebrain.pipeline")
_ONE_US = timedelta(microseconds=1)

SampleListener = Callable[[list[Sample]], None]


class Pipeline:
    """Owns the queue and the batcher; the store is started and closed with it."""

    def __init__(
        self,
        store: SampleStore,
        tags: Iterable[Tag],
        *,
        batch_max_rows: int = 20_000,
        batch_max_age_s: float = 1.0,
        queue_max_samples: int = 500_000,
        report_by_exception: bool = True,
    ) -> None:
        self.store = store
        self.batch_max_rows = batch_max_rows
        self.batch_max_age_s = batch_max_age_s
        self.queue_max_samples = queue_max_samples
        self.stats = PipelineStats(queue_max=queue_max_samples)
        self._filter = ReportByException(tags) if report_by_exception else None
        self._last_time: dict[str, datetime] = {}  # per tag: time of the last sample passed on
        self._filter_lock = threading.Lock()
        self._chunks: deque[tuple[float, list[Sample]]] = deque()
        self._depth = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._last_drop_log = 0.0
        self._listeners: list[SampleListener] = []
        self._batch_listeners: list[SampleListener] = []

    @classmethod
    def from_storage(cls, store: SampleStore, tags: Iterable[Tag], storage: Storage) -> Pipeline:
        """A pipeline sized by a plant config's ``storage`` section."""
        return cls(store, tags, batch_max_rows=storage.batch_max_rows, batch_max_age_s=storage.batch_max_age_s,
                   queue_max_samples=storage.queue_max_samples)  # fmt: skip

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.store.start()
        self._thread = threading.Thread(target=self._batch_loop, name="linebrain-batcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Batch and spool everything queued, then give the store ``timeout`` s to send.
        What is not sent stays spooled for the next start. True when all was sent."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        return self.store.close(timeout)

    def add_listener(self, listener: SampleListener) -> None:
        """Call ``listener`` with every list of readings the sink gets (read-only; must not block)."""
        self._listeners.append(listener)

    def add_batch_listener(self, listener: SampleListener) -> None:
        """Call ``listener`` with every batch after the store took it (read-only; must not block)."""
        self._batch_listeners.append(listener)

    # ------------------------------------------------------------------ the sink

    def sink(self, samples: list[Sample]) -> None:
        """Accept readings from a driver or worker. Never blocks on storage; thread-safe."""
        if not samples:
            return
        self.stats.samples_in += len(samples)
        for listener in self._listeners:
            try:
                listener(samples)
            except Exception:  # a subscriber's bug must not cost the store a reading
                log.exception("sample listener %r failed", listener)
        with self._filter_lock:
            if self._filter is not None:
                before = self._filter.suppressed
                samples = self._filter.filter(samples)
                self.stats.samples_suppressed += self._filter.suppressed - before
            self._restamp(samples)
        if not samples:
            return
        with self._cond:
            if self._depth + len(samples) > self.queue_max_samples:
                self._dropped(len(samples))
                return
            if not self._chunks:
                self._cond.notify_all()
            self._chunks.append((time.monotonic(), samples))
            self._depth += len(samples)
            self.stats.queue_depth = self._depth
            if self._depth >= self.batch_max_rows:
                self._cond.notify_all()

    def _dropped(self, count: int) -> None:
        self.stats.samples_dropped_queue_full += count
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.error("SAMPLE QUEUE FULL (%d samples): %d readings dropped so far; the batcher cannot keep up "
                      "with encoding and spooling", self._depth, self.stats.samples_dropped_queue_full)  # fmt: skip

    def seed(self, stored: Iterable[Sample]) -> None:
        """Continue from each tag's last stored sample (see :func:`collectors.store.latest.last_stored_samples`):
        report by exception compares with it, and no new sample is filed before it."""
        stored = list(stored)
        with self._filter_lock:
            if self._filter is not None:
                self._filter.seed(stored)
            for sample in stored:
                self._last_time[sample.tag] = sample.time

    def _restamp(self, samples: list[Sample]) -> None:
        """Re-stamp the samples whose time is not after their tag's last one (called under the filter lock)."""
        last_time = self._last_time
        now = datetime.now(UTC)
        encoder = self.store.encoder
        oldest, newest = now - timedelta(seconds=encoder.max_age_s), now + timedelta(seconds=encoder.max_future_s)
        for sample in samples:
            moment = sample.time
            if type(moment) is not datetime or moment.tzinfo is None or not oldest <= moment <= newest:
                continue  # the store rejects it with its reason (or takes a naive time as UTC): not a clock
            last = last_time.get(sample.tag)
            if last is not None and moment <= last:
                sample.source_time = moment
                received = sample.received or datetime.now(UTC)
                moment = sample.time = received if received > last else last + _ONE_US
                self.stats.samples_restamped += 1
            last_time[sample.tag] = moment

    def queue_depth(self) -> int:
        return self._depth

    # ------------------------------------------------------------------ the batcher

    def _batch_loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self.stats.batches_formed += 1
            self.stats.in_rate.update(self.stats.samples_in)
            try:
                self.store.write(batch)
            except Exception:  # the batcher must survive anything one batch does
                log.exception("could not store a batch of %d samples", len(batch))
            for listener in self._batch_listeners:
                try:
                    listener(batch)
                except Exception:  # a subscriber's bug must not stop the batcher
                    log.exception("batch listener %r failed", listener)

    def _next_batch(self) -> list[Sample] | None:
        """Wait for a full or old-enough batch; None when stopping and empty."""
        with self._cond:
            while not self._chunks:
                if self._stopping:
                    return None
                self._cond.wait()
            while self._depth < self.batch_max_rows and not self._stopping:
                left = self._chunks[0][0] + self.batch_max_age_s - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._take(self.batch_max_rows)

    def _take(self, limit: int) -> list[Sample]:
        batch: list[Sample] = []
        while self._chunks and len(batch) < limit:
            enqueued, chunk = self._chunks[0]
            room = limit - len(batch)
            if len(chunk) <= room:
                batch.extend(chunk)
                self._chunks.popleft()
            else:
                batch.extend(chunk[:room])
                self._chunks[0] = (enqueued, chunk[room:])
        self._depth -= len(batch)
        self.stats.queue_depth = self._depth
        return batch
