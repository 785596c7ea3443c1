"""Keeping ``samples_1m`` / ``samples_1h`` current on plain PostgreSQL.

On TimescaleDB they are continuous aggregates with their own policies and
``refresh_sample_rollups()`` is a no-op; on plain PostgreSQL it recomputes the
minutes touched since the last call (see migration 0003). A collector or
``linebrain run`` calls it on a timer; an import calls it once at the end, so
golden data is queryable through the rollups at once.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from collectors.store.stats import StoreStats

log = logging.getLogger("linebrain.store")


def refresh_rollups(database_url: str, *, open_minute: bool = True) -> int:
    """Bring the rollups up to date now; returns the time spans recomputed.

    ``open_minute=False`` leaves the minute still in progress for a later call, so a
    periodic refresh computes each minute about once (what the collector does);
    an explicit call (an import, a test) includes everything stored so far."""
    through = "infinity" if open_minute else None
    with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
        return int(conn.execute("SELECT refresh_sample_rollups(%s::timestamptz)", (through,)).fetchone()[0])


def apply_retention(database_url: str, days: int) -> int:
    """Drop samples older than ``days`` (whole partitions, or a TimescaleDB policy)."""
    with psycopg.connect(database_url, autocommit=True, connect_timeout=3) as conn:
        return int(conn.execute("SELECT apply_sample_retention(%s)", (days,)).fetchone()[0])


class RollupRefresher:
    """Calls :func:`refresh_rollups` every ``interval`` s in a thread, and applies the
    retention at start and every ``retention_every`` s when ``retention_days`` is set.
    An unreachable database only postpones the work (pending ranges wait in the database); a refresh the
    database refuses is an ERROR, counted in ``stats`` (``rollup_failures``, ``rollup_error``) so ``status``
    shows it: dashboards reading the rollups go stale until it is fixed."""

    def __init__(
        self, database_url: str, interval: float = 30.0, *, retention_days: int | None = None,
        retention_every: float = 6 * 3600.0, stats: StoreStats | None = None,
    ) -> None:  # fmt: skip
        self.stats = stats if stats is not None else StoreStats()
        self.database_url = database_url
        self.interval = interval
        self.retention_days = retention_days
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
            if self.retention_days and time.monotonic() >= self._retention_due:
                try:
                    dropped = apply_retention(self.database_url, self.retention_days)
                    self._retention_due = time.monotonic() + self.retention_every
                    if dropped:
                        log.info("retention: dropped %d sample partitions older than %d days", dropped,
                                 self.retention_days)  # fmt: skip
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
