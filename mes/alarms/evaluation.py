"""Alarm evaluation inside ``linebrain run``: the collectors' readings in, alarm transitions out.

:class:`AlarmEvaluation` offers :meth:`~AlarmEvaluation.listen`, a sample
listener for the collectors' pipeline (:meth:`collectors.pipeline.Pipeline.add_listener`),
which only appends the list to an inbox, and :meth:`~AlarmEvaluation.job`, a
background job that runs one thread: it restores the stored states, then
evaluates the inbox, expires delays and shelving by the clock and writes every
change in one transaction. Changes that could not be written (database away)
are kept and written first when it is back, so none is lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from collectors.config.models import Plant
from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.engine import AlarmEngine, Change

log = logging.getLogger("linebrain.alarms")
INBOX_MAX_CHUNKS = 100_000


class AlarmEvaluation:
    def __init__(self, plant: Plant, database_url: str, tick_s: float = 0.1,
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.engine = AlarmEngine(plant)
        self.database_url = database_url
        self.tick_s = tick_s
        self.clock = clock
        self.inbox: deque[list[Sample]] = deque()
        self.unwritten: list[Change] = []
        self.point_ids: dict[tuple[str, str], int] = {}
        self.ready = threading.Event()  # states restored: evaluating
        self.changes_written = 0
        self.dropped = 0

    def listen(self, samples: list[Sample]) -> None:
        """The pipeline's listener: hand the readings to the evaluator thread (never blocks)."""
        if len(self.inbox) >= INBOX_MAX_CHUNKS:
            self.dropped += len(samples)
            return
        self.inbox.append(samples)

    async def job(self, stop: asyncio.Event) -> None:
        """Evaluate until ``stop`` is set (a job of ``linebrain run``)."""
        stopping = threading.Event()
        worker = asyncio.create_task(asyncio.to_thread(self.run, stopping))
        try:
            await stop.wait()
        finally:
            stopping.set()
            await worker

    def run(self, stopping: threading.Event) -> None:
        conn: psycopg.Connection | None = None
        next_expiry = 0.0
        while not stopping.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.database_url, autocommit=True)
                    self._restore(conn)
                self.step(conn)
                now = self.clock()
                if now >= next_expiry:
                    with conn.transaction():
                        store.expire_shelving(conn, datetime.fromtimestamp(now, UTC))
                    next_expiry = now + 1.0
            except psycopg.Error as exc:
                log.warning("alarm evaluation paused (%d changes waiting): %s", len(self.unwritten), exc)
                if conn is not None:
                    conn.close()
                conn = None
                stopping.wait(2.0)
                continue
            if not self.inbox:
                stopping.wait(self.tick_s)
        if conn is not None:
            try:
                self.step(conn)
            except psycopg.Error as exc:
                log.warning("alarm changes not written at shutdown: %s", exc)
            conn.close()

    def _restore(self, conn: psycopg.Connection) -> None:
        self.point_ids = store.sync_points(conn, self.engine.conditions)
        if not self.ready.is_set():
            active, suppressed = store.stored_states(conn)
            self.engine.restore(active, suppressed)
            self.ready.set()
            log.info("alarm evaluation: %d alarm points, %d open alarms", len(self.point_ids), len(active))

    def step(self, conn: psycopg.Connection) -> int:
        """Evaluate what is in the inbox and the expired delays; write the changes. How many were written."""
        engine = self.engine
        while self.inbox:
            self.unwritten.extend(engine.evaluate(self.inbox.popleft()))
        self.unwritten.extend(engine.due(self.clock()))
        if not self.unwritten:
            return 0
        with conn.transaction():
            for change in self.unwritten:
                store.record_change(conn, self.point_ids[change.condition.key], change)
        written, self.unwritten = len(self.unwritten), []
        self.changes_written += written
        return written


def alarm_evaluation(plant: Plant, database_url: str) -> AlarmEvaluation | None:
    """The evaluation ``linebrain run`` plugs into the collectors, or None when the config has no rules."""
    if not plant.alarms.rules:
        return None
    return AlarmEvaluation(plant, database_url)
