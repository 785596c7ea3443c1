"""MES background jobs for ``linebrain run`` (the hook in :mod:`mes.cli.collect`).

One job: derivation (:func:`mes.production.derive.run_once`) every few seconds, in a worker
thread so the collectors' event loop never waits on SQL. :func:`periodic_job` is
the loop such a job runs (the quality checks use it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, Protocol, TypeVar

import psycopg

from collectors.config.models import Plant
from mes.production.derive import run_once

log = logging.getLogger("linebrain.mes")
DERIVE_EVERY_S = 5.0

BackgroundJob = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class _Report(Protocol):
    errors: list[str]


T = TypeVar("T")


def periodic_job(database_url: str, every_s: float, what: str, logger: logging.Logger,
                 when: Callable[[], T], step: Callable[[psycopg.Connection, T], _Report]) -> BackgroundJob:
    """A job that runs ``step(conn, when())`` every ``every_s`` seconds until ``stop`` is set, in a worker
    thread so the collectors' event loop never waits on SQL. ``conn`` (autocommit) is kept between rounds;
    the report's errors are logged, and a database error closes it and waits for the next round."""

    async def job(stop: asyncio.Event) -> None:
        conn: psycopg.Connection | None = None
        try:
            while not stop.is_set():
                try:
                    if conn is None or conn.closed:
                        conn = await asyncio.to_thread(lambda: psycopg.connect(database_url, autocommit=True))
                    report = await asyncio.to_thread(step, conn, when())
                    for error in report.errors:
                        logger.warning("%s: %s", what, error)
                except psycopg.Error as exc:  # the database may be away; try again next round
                    logger.warning("%s paused: %s", what, exc)
                    if conn is not None:
                        conn.close()
                    conn = None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), every_s)
        finally:
            if conn is not None:
                conn.close()

    return job


def derivation_job(plant: Plant, database_url: str, every_s: float = DERIVE_EVERY_S,
                   clock: Callable[[], datetime] | None = None) -> BackgroundJob:
    """A job that derives states, counts, events and PLC order changes until ``stop`` is set.
    ``clock`` gives the derivation horizon (default: the wall clock; the demo passes the
    simulator's clock). Meanwhile the database is away, the store spools."""
    return periodic_job(database_url, every_s, "derivation", log,
                        when=lambda: clock() if clock else None,
                        step=lambda conn, now: run_once(conn, plant, now))


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The MES jobs ``linebrain run`` starts next to the collectors (on the plant clock, :mod:`mes.clock`)."""
    from mes.clock import job_interval, plant_clock

    return [derivation_job(plant, database_url, every_s=job_interval(DERIVE_EVERY_S), clock=plant_clock())]
