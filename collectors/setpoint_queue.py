"""The collector's end of the setpoint channel: claim write requests for our tags, run them, file the outcome.

The MES (another process, or a job of this one) inserts a checked request into
``setpoint_requests`` and notifies ``linebrain_setpoints``; this job listens, claims
one pending request for a tag of its own connections (``FOR UPDATE SKIP LOCKED``:
with several collector processes exactly one claims it), writes it through that
connection's driver with :func:`collectors.setpoints.write_verified` and stores the
outcome, then notifies ``linebrain_setpoint_done`` with the request id. The
database is the only way in: no port is opened, and only a process that can write
that table (the ``linebrain`` role) can ask. :class:`CollectorService` starts this
job only when one of its tags is ``writable``; without one there is no write path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from collectors.config.models import Tag
from collectors.setpoints import WritableDriver, WriteOutcome, write_verified

log = logging.getLogger(__name__)

REQUEST_CHANNEL = "linebrain_setpoints"
DONE_CHANNEL = "linebrain_setpoint_done"
POLL_SECONDS = 1.0  # a missed notification costs at most this long

_CLAIM = """
UPDATE setpoint_requests SET state = 'running', claimed_by = %(me)s
WHERE id = (SELECT id FROM setpoint_requests
            WHERE state = 'pending' AND expires_at > now() AND tag = ANY(%(tags)s)
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id, tag, value, tolerance
"""
_FINISH = """
UPDATE setpoint_requests SET state = 'done', old_value = %(old)s, readback = %(readback)s,
       result = %(result)s, message = %(message)s, finished_at = now()
WHERE id = %(id)s
"""


class SetpointQueue:
    """Runs the write requests for ``writable`` (tag name → its config and the driver of its connection)."""

    def __init__(self, database_url: str, writable: Mapping[str, tuple[Tag, WritableDriver]],
                 name: str = "collector") -> None:  # fmt: skip
        self.database_url = database_url
        self.writable = dict(writable)
        self.me = f"{name}@{socket.gethostname()}"
        self.handled = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Serve requests until ``stop``; a lost database is retried, never fatal to the collector."""
        while not stop.is_set():
            try:
                await self._serve(stop)
            except (psycopg.Error, OSError) as exc:
                log.warning("setpoint requests: database unavailable (%s); retrying in 5 s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)

    async def _serve(self, stop: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(self.database_url, autocommit=True) as conn:
            await conn.execute(f"LISTEN {REQUEST_CHANNEL}")
            log.info("serving setpoint writes for %d writable tags", len(self.writable))
            while not stop.is_set():
                while await self.serve_one(conn):
                    pass
                async for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                    pass

    async def serve_one(self, conn: psycopg.AsyncConnection[Any]) -> bool:
        """Claim and run one request; False when none is waiting for our tags."""
        cursor = await conn.execute(_CLAIM, {"me": self.me, "tags": list(self.writable)})
        row = await cursor.fetchone()
        if row is None:
            return False
        request_id, tag_name, value, tolerance = row
        tag, driver = self.writable[tag_name]
        try:
            outcome = await write_verified(driver, tag, value, tolerance=tolerance)
        except Exception as exc:  # a bug must not leave the request running forever
            log.exception("setpoint request %s for %s failed unexpectedly", request_id, tag_name)
            outcome = WriteOutcome(tag_name, value, result="failed", message=f"internal error: {exc!r}")
        await conn.execute(_FINISH, {"id": request_id, "old": Jsonb(outcome.old), "readback": Jsonb(outcome.readback),
                                     "result": outcome.result, "message": outcome.message})  # fmt: skip
        await conn.execute("SELECT pg_notify(%s, %s)", (DONE_CHANNEL, str(request_id)))
        self.handled += 1
        log.info("setpoint %s = %r: %s %s", tag_name, value, outcome.result, outcome.message)
        return True


def writable_tags(tags: list[Tag], drivers: Mapping[str, Any]) -> dict[str, tuple[Tag, WritableDriver]]:
    """The writable tags among ``tags`` whose connection's driver (``drivers``: connection id → driver)
    can write and read back; empty when none is: then no write path is opened."""
    found: dict[str, tuple[Tag, WritableDriver]] = {}
    for tag in tags:
        driver = drivers.get(tag.connection)
        if tag.writable and driver is not None and hasattr(driver, "write") and hasattr(driver, "read_tag"):
            found[tag.name] = (tag, driver)
    return found
