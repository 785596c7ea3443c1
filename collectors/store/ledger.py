"""Commit one batch exactly once: ledger row and COPY in one transaction.

The batch id goes into ``store_batches`` first, with ``ON CONFLICT DO NOTHING``:
if the id is already there the batch was committed before (a replay after a
crash or an outage, or a COMMIT whose answer was lost) and nothing else runs. A
concurrent writer of the same id waits on the primary key and then sees the
conflict, so two replays never both insert. Rows and ledger row commit together
or not at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg

from collectors.store.rows import COPY_HEADER, COPY_TRAILER, copy_sql_for, from_unix_us

_LEDGER_INSERT = """
INSERT INTO store_batches (batch_id, source, rows, first_time, last_time)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (batch_id) DO NOTHING
RETURNING 1
"""


class PartitionCache:
    """Months for which plain PostgreSQL partitions are known to exist.

    ``ensure_sample_partitions`` takes a lock and checks the catalog; calling it
    once per month per process keeps it off the hot path. On TimescaleDB it is a no-op.
    """

    def __init__(self) -> None:
        self._months: set[tuple[int, int]] = set()

    def ensure(self, conn: psycopg.Connection, first: datetime, last: datetime) -> None:
        months = _months_between(first, last)
        if months <= self._months:
            return
        with conn.transaction():
            conn.execute("SELECT ensure_sample_partitions(%s, %s)", (first, last))
        self._months |= months

    def forget(self) -> None:
        self._months.clear()


def _months_between(first: datetime, last: datetime) -> set[tuple[int, int]]:
    months: set[tuple[int, int]] = set()
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.add((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def commit_batch(
    conn: psycopg.Connection,
    batch_id: uuid.UUID,
    payload: bytes,
    rows: int,
    first_us: int,
    last_us: int,
    source: str = "",
) -> bool:
    """Write a batch's rows and its ledger row in one transaction.

    Returns False (and writes nothing) when the batch id is already recorded.
    ``conn`` must not be inside a transaction (autocommit or idle).
    """
    with conn.transaction():
        recorded = conn.execute(
            _LEDGER_INSERT, (batch_id, source, rows, from_unix_us(first_us), from_unix_us(last_us))
        ).fetchone()
        if recorded is None:
            return False
        with conn.cursor() as cur, cur.copy(copy_sql_for(payload)) as copy:
            copy.write(b"".join((COPY_HEADER, payload, COPY_TRAILER)))  # one call: least GIL traffic
    return True
