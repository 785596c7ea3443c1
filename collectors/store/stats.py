"""Figures the store and pipeline keep for metrics and ``linebrain status``.

Plain counters updated by one thread each and read by the metrics thread; a torn
read of a Python int cannot happen, so no locks are needed on the hot path.
"""

from __future__ import annotations

import bisect
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field

# Upper bounds (seconds) of the latency histogram: fine up to 2 s, where the goal is.
LATENCY_BOUNDS: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
    *(round(0.05 * i, 3) for i in range(2, 41)),  # 0.1 … 2.0 s in 50 ms steps
    2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 3600.0, float("inf"),
)  # fmt: skip


class LatencyHistogram:
    """Source time → committed row, per sample. Thread-safe."""

    def __init__(self) -> None:
        self.counts = [0] * len(LATENCY_BOUNDS)
        self.total = 0
        self.sum = 0.0
        self._lock = threading.Lock()
        self._bounds_us = [b * 1_000_000 for b in LATENCY_BOUNDS]

    def observe_batch(self, commit_us: int, times_us: array[int], every: int = 8) -> None:
        """Count the latencies of a committed batch. Only every ``every``-th sample is
        looked at (weighted by ``every``): the quantiles stay exact to a bucket for
        batches of thousands, at an eighth of the CPU on the store's hot path."""
        if not times_us:
            return
        local = [0] * len(self.counts)
        bounds = self._bounds_us
        picked = times_us[::every] if len(times_us) >= 4 * every else times_us
        weight = len(times_us) / len(picked)
        for t_us in picked:
            local[bisect.bisect_left(bounds, commit_us - t_us)] += 1
        total_us = commit_us * len(times_us) - sum(times_us)
        with self._lock:
            for index, count in enumerate(local):
                if count:
                    self.counts[index] += round(count * weight)
            self.total += sum(round(count * weight) for count in local)
            self.sum += total_us / 1_000_000

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-quantile (None before any sample)."""
        with self._lock:
            if not self.total:
                return None
            rank = q * self.total
            seen = 0
            for bound, count in zip(LATENCY_BOUNDS, self.counts, strict=True):
                seen += count
                if seen >= rank:
                    return bound
        return LATENCY_BOUNDS[-1]

    def reset(self) -> None:
        with self._lock:
            self.counts = [0] * len(LATENCY_BOUNDS)
            self.total = 0
            self.sum = 0.0


class RateMeter:
    """Events per second over the last ``window`` seconds, from a monotonic total."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._points: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def update(self, total: int) -> None:
        """Record the running total; the store and batcher call this as they work, so a
        single scrape (``linebrain status``) already sees a rate."""
        now = time.monotonic()
        with self._lock:
            if self._points and now - self._points[-1][0] < 0.2:
                return  # enough resolution; keeps the hot path cheap
            self._points.append((now, total))
            while len(self._points) > 2 and now - self._points[1][0] > self.window:
                self._points.popleft()

    def rate(self, total: int) -> float:
        now = time.monotonic()
        with self._lock:
            if not self._points:
                self._points.append((now, total))
                return 0.0
            first_t, first_total = self._points[0]
        elapsed = now - first_t
        return (total - first_total) / elapsed if elapsed > 0.5 else 0.0


@dataclass
class StoreStats:
    """What the store did so far."""

    batches_spooled: int = 0
    rows_spooled: int = 0
    batches_committed: int = 0
    rows_committed: int = 0
    batches_skipped: int = 0  # already in the ledger: a replay
    batches_quarantined: int = 0
    rows_quarantined: int = 0  # refused by the database for their content, kept aside in spool/quarantine
    rows_dropped_spool_full: int = 0
    database_up: bool = False
    flavour: str = ""  # "TimescaleDB 2.x" or "plain PostgreSQL (why)", learnt on connecting
    last_error: str = ""
    last_flush_seconds: float = 0.0  # spooled → committed, of the last batch
    last_commit_seconds: float = 0.0  # duration of the last COPY transaction
    spool_near_full: bool = False
    rows_dropped_disk_full: int = 0  # the spool's disk refused the write (ENOSPC, EDQUOT, EFBIG)
    rollup_failures: int = 0  # refreshes the database refused (not: postponed while it is unreachable)
    rollup_error: str = ""  # the last refusal, "" once a refresh succeeds again
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    committed_rate: RateMeter = field(default_factory=RateMeter)


@dataclass
class PipelineStats:
    samples_in: int = 0
    samples_suppressed: int = 0  # by report-by-exception
    samples_restamped: int = 0  # source time not after the tag's last sample: filed at the receive time
    samples_dropped_queue_full: int = 0
    queue_depth: int = 0
    queue_max: int = 0
    batches_formed: int = 0
    in_rate: RateMeter = field(default_factory=RateMeter)
