"""A few hours of plant data written through LineBrain's own code paths, for panel tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from collectors.config import load_plant
from collectors.database.tags import sync_tags
from tests.conftest import REPO

PLANT = REPO / "examples" / "brewery.yaml"


def fill(url: str, start: datetime, end: datetime) -> None:
    """Tags from the example plant, 1 s samples (some bad) and the store's batch ledger."""
    plant = load_plant(PLANT)
    with psycopg.connect(url, autocommit=True) as conn:
        sync_tags(conn, plant)
        conn.execute("SELECT ensure_sample_partitions(%s, %s)", (start, end))
        conn.execute(
            """
            INSERT INTO samples (time, tag_id, value, status, server_time, received_time)
            SELECT g, t.id, 100 + 50 * sin(extract(epoch FROM g) / 600) + t.id,
                   CASE WHEN extract(epoch FROM g)::bigint %% 997 = t.id THEN 2147483648 ELSE 0 END,
                   g, g + interval '40 ms'
            FROM tags t, generate_series(%s::timestamptz, %s::timestamptz - interval '1 s', interval '1 s') g
            """,
            (start, end),
        )
        conn.execute(
            """
            INSERT INTO store_batches (batch_id, source, rows, first_time, last_time, committed_at)
            SELECT gen_random_uuid(), 'edge-1', 5 * 10, g, g + interval '9 s', g + interval '10.3 s'
            FROM generate_series(%s::timestamptz, %s::timestamptz - interval '10 s', interval '10 s') g
            """,
            (start, end),
        )
        conn.execute("ANALYZE samples")


def window(hours: int = 3) -> tuple[datetime, datetime]:
    end = datetime.now().astimezone().replace(microsecond=0)
    return end - timedelta(hours=hours), end
