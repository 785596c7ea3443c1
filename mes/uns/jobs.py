"""The ``linebrain run`` job that publishes MES events to the unified namespace (when ``mqtt`` is configured)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from collectors.config.models import Plant
from mes.jobs import BackgroundJob, periodic_job
from mes.uns.events import UnsPublisher, collect_events, shift_counts

log = logging.getLogger("linebrain.uns")
PUBLISH_EVERY_S = 5.0


@dataclass
class PublishReport:
    published: int = 0
    errors: list[str] = field(default_factory=list)


def publish_round(conn: psycopg.Connection, plant: Plant, publisher: UnsPublisher,
                  now: datetime | None = None) -> PublishReport:  # fmt: skip
    """Collect the unpublished events up to ``now``, publish them, then commit the watermarks (a failed
    publish rolls them back, so the round is repeated)."""
    report = PublishReport()
    now = now or datetime.now(UTC)
    with conn.transaction():
        events = collect_events(conn, plant, now) + shift_counts(conn, plant, now)
        try:
            report.published = publisher.publish(events)
        except (RuntimeError, ValueError) as exc:
            raise psycopg.OperationalError(f"broker refused MES events: {exc}") from exc
    return report


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    if plant.mqtt is None:
        return []
    publisher: list[UnsPublisher] = []

    def step(conn: psycopg.Connection, _now: None) -> PublishReport:
        if not publisher:
            publisher.append(UnsPublisher(plant))
        return publish_round(conn, plant, publisher[0])

    return [periodic_job(database_url, PUBLISH_EVERY_S, "MES events to MQTT", log, when=lambda: None, step=step)]
