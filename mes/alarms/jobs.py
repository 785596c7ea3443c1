"""The alarm jobs of ``linebrain run`` (named in ``mes.cli.collect.MES_JOB_MODULES``): dispatch every second.

The evaluation itself is not here: it needs the collectors' readings, so ``run`` plugs
:func:`mes.alarms.evaluation.alarm_evaluation` into the pipeline directly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from collectors.config.models import Plant
from mes.alarms.dispatch import dispatch_once
from mes.jobs import BackgroundJob, periodic_job

log = logging.getLogger("linebrain.alarms")
DISPATCH_EVERY_S = 1.0


def dispatch_job(plant: Plant, database_url: str, every_s: float = DISPATCH_EVERY_S) -> BackgroundJob:
    """Notices, escalations and retries (:func:`dispatch_once`) every ``every_s`` seconds."""
    settings = plant.alarms.dispatch
    return periodic_job(database_url, every_s, "alarm dispatch", log, when=lambda: datetime.now(UTC),
                        step=lambda conn, now: dispatch_once(conn, settings, now))  # fmt: skip


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    if not plant.alarms.dispatch.channels:
        return []
    return [dispatch_job(plant, database_url)]
