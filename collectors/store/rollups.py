"""Keeping ``samples_1m`` / ``samples_1h`` current, and the storage settings applied.

On plain PostgreSQL ``refresh_sample_rollups()`` recomputes the minutes touched
since the last call (see migration 0003). On TimescaleDB they are continuous
aggregates: their policies refresh the recent past, and the ranges of committed
batches (``sample_rollup_pending``, migration 0020) are refreshed here with
``refresh_continuous_aggregate``, so late samples — a replayed spool, an
import, a write into a compressed chunk — reach the rollups too. A collector or
``linebrain run`` calls it on a timer; an import calls it once at the end, so
golden data is queryable through the rollups at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import timedelta

import psycopg

from collectors.config.models import Storage
from collectors.database.flavour import database_flavour
from collectors.store.stats import StoreStats

log = logging.getLogger("linebrain.store")


def refresh_rollups(database_url: str, *, open_minute: bool = True) -> int:
    """Bring the rollups up to date now; returns the time spans recomputed.

    ``open_minute=False`` leaves the minute still in progress for a later call, so a
    periodic refresh computes each minute about once (what the collector does);
    an explicit call (an import, a test) includes everything stored so far."""
    through = "infinity" if open_minute else None
    with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
        if database_flavour(conn).timescaledb:
            return _refresh_continuous_aggregates(conn, through)
        return _count(conn, "SELECT refresh_sample_rollups(%s::timestamptz)", (through,))


def _refresh_continuous_aggregates(conn: psycopg.Connection, through: str | None) -> int:
    """Refresh both aggregates over each pending span (whole minutes, and the hours around them).
    A span whose refresh fails goes back to the pending table for the next call."""
    spans = conn.execute("SELECT span_from, span_to FROM take_sample_rollup_pending(%s::timestamptz)",
                         (through,)).fetchall()  # fmt: skip
    for index, (span_from, span_to) in enumerate(spans):
        try:
            conn.execute("CALL refresh_continuous_aggregate('samples_1m', %s, %s)", (span_from, span_to))
            conn.execute(
                "CALL refresh_continuous_aggregate('samples_1h', date_trunc('hour', %s::timestamptz),"
                " date_trunc('hour', %s::timestamptz - interval '1 microsecond') + interval '1 hour')",
                (span_from, span_to),
            )
        except psycopg.Error:
            with contextlib.suppress(psycopg.Error):
                for left_from, left_to in spans[index:]:
                    conn.execute("INSERT INTO sample_rollup_pending (first_time, last_time) VALUES (%s, %s)",
                                 (left_from, left_to - timedelta(microseconds=1)))  # fmt: skip
            raise
    return len(spans)


def configure_storage(database_url: str, storage: Storage) -> int:
    """Apply the config's storage settings: retention on both flavours; on TimescaleDB also the
    chunk interval for the expected sample rate and the compression policy (migration 0020).
    Returns the plain partitions dropped by retention."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
        return _count(conn, "SELECT configure_sample_storage(%s, %s, %s)",
                      (storage.retention_days, storage.compress_after_days, storage.expected_samples_per_second))


class RollupRefresher:
    """Calls :func:`refresh_rollups` every ``interval`` s in a thread, and applies the
    storage settings (:func:`configure_storage`: retention, and on TimescaleDB chunk interval and
    compression) at start and every ``retention_every`` s when ``storage`` is given.
    An unreachable database only postpones the work (pending ranges wait in the database); a refresh the
    database refuses is an ERROR, counted in ``stats`` (``rollup_failures``, ``rollup_error``) so ``status``
    shows it: dashboards reading the rollups go stale until it is fixed."""

    def __init__(
        self, database_url: str, interval: float = 30.0, *, storage: Storage | None = None,
        retention_every: float = 6 * 3600.0, stats: StoreStats | None = None,
    ) -> None:  # fmt: skip
        self.stats = stats if stats is not None else StoreStats()
        self.database_url = database_url
        self.interval = interval
        self.storage = storage
        self.retention_every = retention_every
        self.refreshes = 0
        self._retention_due = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="linebrain-rollups", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while True:
            if self.storage and time.monotonic() >= self._retention_due:
                try:
                    dropped = configure_storage(self.database_url, self.storage)
                    self._retention_due = time.monotonic() + self.retention_every
                    if dropped:
                        log.info("retention: dropped %d sample partitions older than %d days", dropped,
                                 self.storage.retention_days)  # fmt: skip
                except psycopg.Error as exc:
                    log.info("retention postponed: %s", exc)
            if self._stop.wait(self.interval):
                return
            self.refresh_once()

    def refresh_once(self) -> None:
        try:
            refresh_rollups(self.database_url, open_minute=False)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            log.info("rollup refresh postponed (database unreachable): %s", exc)
        except psycopg.Error as exc:
            self.stats.rollup_failures += 1
            self.stats.rollup_error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
            log.error("rollup refresh FAILED (samples_1m / samples_1h go stale until it succeeds): %s", exc)
        else:
            self.refreshes += 1
            if self.stats.rollup_error:
                log.warning("rollup refresh works again")
            self.stats.rollup_error = ""


def _count(conn: psycopg.Connection, sql: str, params: tuple[object, ...]) -> int:
    """The count a maintenance function returns (0 for NULL)."""
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0
