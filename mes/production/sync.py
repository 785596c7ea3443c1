"""Config -> database: the plant's equipment, products, reason trees, tags and shift calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from collectors.config.models import Plant
from collectors.database.tags import sync_tags
from mes.production.downtime import sync_reasons
from mes.production.equipment import sync_equipment
from mes.production.products import sync_products
from mes.production.root_cause import sync_flows
from mes.production.shifts import ensure_calendar, rebuild_future
from mes.recipes.setpoints import sync_writable_tags


def sync_plant(conn: psycopg.Connection, plant: Plant, now: datetime | None = None, calendar_days: int = 7) -> None:
    """Mirror the config into the MES tables in one transaction, and build the shift
    calendar from yesterday to ``calendar_days`` ahead (future shifts follow the current
    patterns; past ones stay as planned)."""
    now = now or datetime.now(UTC)
    sync_tags(conn, plant)
    with conn.transaction():
        sync_equipment(conn, plant)
        sync_flows(conn, plant)
        sync_products(conn, plant)
        sync_reasons(conn, plant)
        rebuild_future(conn, plant, now, calendar_days)
        sync_writable_tags(conn, plant)


def extend_calendar(conn: psycopg.Connection, plant: Plant, now: datetime, days_ahead: int = 2) -> None:
    """Make sure shifts exist from yesterday to ``days_ahead`` (cheap when they do)."""
    today = now.astimezone(ZoneInfo(plant.site.timezone)).date()
    with conn.transaction():
        ensure_calendar(conn, plant, today - timedelta(days=1), today + timedelta(days=days_ahead))
