"""How much room the samples take: chunks (or partitions), compression, bytes per sample.

``linebrain db stats`` prints these; the store bench reads the same figures. Row
counts of the uncompressed part are PostgreSQL's estimates (``reltuples``, kept by
autovacuum's ANALYZE), so the figures are approximate on a busy table; rows of
compressed chunks are exact (TimescaleDB records them when it compresses).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from collectors.database.flavour import database_flavour
from collectors.errors import DatabaseError

# Per chunk of ``samples`` (TimescaleDB's public views), its estimated rows, and for compressed chunks the
# rows TimescaleDB recorded when it compressed them (its catalog: the public views give bytes, not rows).
_TIMESCALE_SQL = """
WITH per_chunk AS (
    SELECT c.is_compressed, greatest(cl.reltuples, 0)::bigint AS estimated, cs.numrows_pre_compression AS compressed
    FROM timescaledb_information.chunks c
    JOIN pg_class cl ON cl.oid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass
    LEFT JOIN _timescaledb_catalog.chunk ch ON ch.relid = cl.oid
    LEFT JOIN _timescaledb_catalog.compression_chunk_size cs ON cs.chunk_id = ch.id
    WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'samples'
), sizes AS (
    SELECT coalesce(sum(before_compression_total_bytes), 0) AS before,
           coalesce(sum(after_compression_total_bytes), 0) AS after
    FROM hypertable_compression_stats('samples')
)
SELECT count(*)::integer, count(*) FILTER (WHERE is_compressed)::integer,
       coalesce(sum(estimated + CASE WHEN is_compressed THEN coalesce(compressed, 0) ELSE 0 END), 0)::bigint,
       coalesce(hypertable_size('samples'), 0)::bigint,
       coalesce(sum(compressed) FILTER (WHERE is_compressed), 0)::bigint,
       (SELECT before FROM sizes)::bigint, (SELECT after FROM sizes)::bigint
FROM per_chunk
"""

_PLAIN_SQL = """
SELECT count(*)::integer, 0, coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint,
       coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint, 0::bigint, 0::bigint, 0::bigint
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'samples'::regclass
"""


@dataclass(frozen=True)
class StorageStats:
    flavour: str
    chunks: int  # TimescaleDB chunks, or monthly partitions on plain PostgreSQL
    compressed_chunks: int
    rows: int  # approximate (see the module's docstring)
    total_bytes: int  # table, indexes and TOAST of every chunk
    compressed_rows: int
    bytes_before_compression: int  # of the chunks now compressed
    bytes_after_compression: int

    @property
    def bytes_per_sample(self) -> float | None:
        return self.total_bytes / self.rows if self.rows else None

    @property
    def compression_ratio(self) -> float | None:
        """Bytes before / after, over the compressed chunks."""
        if not self.bytes_after_compression:
            return None
        return self.bytes_before_compression / self.bytes_after_compression

    @property
    def compressed_bytes_per_sample(self) -> float | None:
        return self.bytes_after_compression / self.compressed_rows if self.compressed_rows else None


def storage_stats(conn: psycopg.Connection) -> StorageStats:
    """The figures of the ``samples`` table of the database ``conn`` is connected to."""
    flavour = database_flavour(conn)
    if flavour.timescaledb and flavour.note:  # without the preload TimescaleDB's views end the session
        raise DatabaseError(flavour.label)
    row = conn.execute(_TIMESCALE_SQL if flavour.timescaledb else _PLAIN_SQL).fetchone()
    assert row is not None  # an aggregate always answers one row
    return StorageStats(flavour.label, *(int(value) for value in row))
