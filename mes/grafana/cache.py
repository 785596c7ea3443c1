"""Keeping the hourly KPI cache (grafana.kpi_hours, migration 0085) filled.

Grafana's panels are correct without it (uncached hours are computed live by
mes_kpi()), but a 30-day panel is fast only when past hours are cached. The
refresh computes hours never cached and hours whose facts changed (noted by
triggers on the MES tables); ``linebrain run`` calls it every minute, and
``linebrain grafana refresh`` on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg

from collectors.config.models import Plant

log = logging.getLogger("linebrain.grafana")
REFRESH_EVERY_S = 60.0
HOURS_PER_CALL = 500  # a first fill of months proceeds in steps, newest hours first

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def refresh_kpi_hours(conn: psycopg.Connection, max_hours: int = HOURS_PER_CALL) -> int:
    """Compute up to ``max_hours`` uncached or changed line-hours; returns how many."""
    row = conn.execute("SELECT grafana.refresh_kpi_hours(%s)", (max_hours,)).fetchone()
    return int(row[0]) if row else 0


def refresh_all(conn: psycopg.Connection) -> int:
    """Refresh until nothing is left to compute."""
    total = 0
    while (done := refresh_kpi_hours(conn)) > 0:
        total += done
    return total


def kpi_cache_job(database_url: str, every_s: float = REFRESH_EVERY_S) -> BackgroundJob:
    """A ``linebrain run`` job: refresh the cache every ``every_s`` seconds until stopped."""

    async def job(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                conn = await asyncio.to_thread(lambda: psycopg.connect(database_url, autocommit=True))
                with conn:
                    await asyncio.to_thread(refresh_kpi_hours, conn)
            except psycopg.Error as exc:  # the database may be away; the next round catches up
                log.warning("Grafana KPI cache refresh postponed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    return job


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The hook of ``mes.cli.collect.MES_JOB_MODULES``."""
    return [kpi_cache_job(database_url)]
