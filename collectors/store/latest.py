"""Each tag's last stored sample: what a restarted collector continues from.

The pipeline seeds report by exception with it (an unchanged value is not
stored again after a restart) and its per-tag clock (no sample is filed before
the tag's last stored one). Read once at start; an unreachable database only
means starting unseeded, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from collectors.samples import Sample

log = logging.getLogger("linebrain.store")

_LATEST = """
SELECT t.name, s.time, s.value, s.text_value, s.status,
       coalesce(s.received_time, s.time + s.receive_delay_ms * interval '1 millisecond')
FROM tags t
CROSS JOIN LATERAL (
    SELECT time, value, text_value, status, received_time, receive_delay_ms FROM samples
    WHERE tag_id = t.id ORDER BY time DESC LIMIT 1
) s
WHERE t.name = ANY(%s)
"""


def last_stored_samples(database_url: str, tag_names: Sequence[str]) -> list[Sample]:
    """The newest stored sample of each of ``tag_names`` that has one; [] when the database is unreachable."""
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(_LATEST, (list(tag_names),)).fetchall()
    except psycopg.OperationalError as exc:
        log.warning("database unreachable (%s): report by exception starts without the last stored samples",
                    (str(exc).strip().splitlines() or [""])[0])  # fmt: skip
        return []
    return [Sample(name, moment, value, int(status), text, None, received)
            for name, moment, value, text, status, received in rows]  # fmt: skip
