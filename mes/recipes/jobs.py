"""The recipe jobs of ``linebrain run``: download at order start, and the variance watch.

Both run only when the plant has a writable tag. The order-start job downloads, for
lines with ``recipe_download: order_start``, the approved recipes of every order
that started (first transition to running) in the last ten minutes and has no
order-start download yet, and a unique index makes sure two processes never
download one order twice. It acts as ``system:order-start`` on behalf of the user
who started the order (:func:`order_start_actor`): the least role that may download
recipes, narrowed to that one action, so a tag whose ``write_roles`` leave that
role out is refused, visibly, and the audit rows name the system and the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

from collectors.config.models import Plant
from collectors.service import BackgroundJob
from mes.auth.models import User
from mes.auth.permissions import ROLES, allowed
from mes.errors import MesError
from mes.recipes.download import ACTION as DOWNLOAD
from mes.recipes.download import download
from mes.recipes.setpoints import Origin
from mes.recipes.variance import watch_once

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:order-start"
ORIGIN = Origin(None, "job: order start")
ORDER_START_EVERY_S = 2.0
VARIANCE_EVERY_S = 5.0

_STARTED = """
SELECT o.number, s.by_user FROM work_orders o
JOIN LATERAL (SELECT t.by_user FROM work_order_transitions t WHERE t.order_id = o.id AND t.to_status = 'running'
              AND t.from_status IS DISTINCT FROM 'paused' AND t.recorded_at > now() - interval '10 minutes'
              ORDER BY t.id DESC LIMIT 1) s ON true
WHERE o.status = 'running' AND o.line_id = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM recipe_downloads d WHERE d.order_id = o.id AND d.trigger = 'order_start')
ORDER BY o.id
"""


def order_start_actor(started_by: str) -> User:
    """Who downloads at order start: ``system:order-start`` with the least role that may download
    recipes, narrowed (like an API token's scope) to ``recipes.download`` alone. ``started_by``, the
    user who started the order, goes into every audit row of the download as ``on_behalf_of``."""
    role = next(role for role in ROLES if allowed(role, DOWNLOAD))
    return User(0, SYSTEM_ACTOR, role, scopes=frozenset({DOWNLOAD}), on_behalf_of=started_by)


def download_started_orders(database_url: str, lines: list[str], skipped: set[str]) -> list[str]:
    """Download the recipes of orders that just started on ``lines``; the order numbers downloaded.
    ``skipped`` remembers orders without an approved recipe, so they are logged once."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = conn.execute(_STARTED, (lines,)).fetchall()
    done = []
    for number, started_by in started:
        if number in skipped:
            continue
        try:
            report = download(database_url, order_start_actor(started_by), number, trigger="order_start",
                              origin=ORIGIN)  # fmt: skip
        except psycopg.errors.UniqueViolation:
            continue  # another process took it
        except MesError as exc:
            skipped.add(number)
            log.info("order %s started: no recipe download (%s)", number, exc)
            continue
        log.info("order %s started: recipe download %s", number, report.result)
        done.append(number)
    return done


def order_start_job(database_url: str, lines: list[str], every_s: float = ORDER_START_EVERY_S) -> BackgroundJob:
    async def job(stop: asyncio.Event) -> None:
        skipped: set[str] = set()
        while not stop.is_set():
            try:
                await asyncio.to_thread(download_started_orders, database_url, lines, skipped)
            except psycopg.Error as exc:
                log.warning("order-start downloads: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    return job


def variance_job(database_url: str, every_s: float = VARIANCE_EVERY_S) -> BackgroundJob:
    async def job(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                opened = await asyncio.to_thread(_watch, database_url)
                for event in opened:
                    log.warning("setpoint variance: %s holds %s, downloaded %s", event["tag"], event["actual"],
                                event["expected"])  # fmt: skip
            except psycopg.Error as exc:
                log.warning("variance watch: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)

    return job


def _watch(database_url: str) -> list[dict]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return watch_once(conn)


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    """The jobs ``linebrain run`` starts (none without a writable tag)."""
    if not any(tag.writable for tag in plant.tags):
        return []
    found = [variance_job(database_url)]
    lines = [line.id for line in plant.lines() if line.recipe_download == "order_start"]
    if lines:
        found.append(order_start_job(database_url, lines))
    return found
