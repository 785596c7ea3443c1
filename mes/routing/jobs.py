"""The job-shop job of ``linebrain run`` (``mes.cli.collect.MES_JOB_MODULES``): every
``BOOK_EVERY_S`` the counts of work centres with an operation tag are booked to the operations
the PLC shows, over the last ``LOOK_BACK`` (bookings are keyed, so the overlap books nothing twice)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from collectors.config.models import Plant
from mes.jobs import BackgroundJob, periodic_job
from mes.routing.plc import book_from_operation_tag, centres_with_tags

log = logging.getLogger("linebrain.mes.routing")
BOOK_EVERY_S = 15.0
LOOK_BACK = timedelta(hours=2)


@dataclass
class Round:
    errors: list[str] = field(default_factory=list)


def book_round(conn: psycopg.Connection, now: datetime) -> Round:
    done = Round()
    for centre in centres_with_tags(conn):
        done.errors.extend(book_from_operation_tag(conn, centre, now - LOOK_BACK, now).errors[:3])
    return done


def jobs(plant: Plant, database_url: str) -> list[BackgroundJob]:
    return [periodic_job(database_url, BOOK_EVERY_S, "operation tags", log, lambda: datetime.now(UTC), book_round)]
