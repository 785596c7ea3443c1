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

# Per chunk of ``samples``: size, estimated rows, and for compressed chunks TimescaleDB's own record
# of rows and bytes before and after (its catalog; the public views give bytes but not rows).
_TIMESCALE_SQL = """
SELECT count(*)::integer,
       count(*) FILTER (WHERE ch.compressed_chunk_id IS NOT NULL)::integer,
       coalesce(sum(CASE WHEN ch.compressed_chunk_id IS NULL
                         THEN greatest(cl.reltuples, 0) ELSE cs.numrows_pre_compression END), 0)::bigint,
       coalesce(hypertable_size('samples'), 0)::bigint,
       coalesce(sum(cs.numrows_pre_compression), 0)::bigint,
       coalesce(sum(cs.uncompressed_heap_size + cs.uncompressed_toast_size + cs.uncompressed_index_size), 0)::bigint,
       coalesce(sum(cs.compressed_heap_size + cs.compressed_toast_size + cs.compressed_index_size), 0)::bigint
FROM _timescaledb_catalog.chunk ch
JOIN _timescaledb_catalog.hypertable h ON h.id = ch.hypertable_id
JOIN pg_class cl ON cl.oid = format('%I.%I', ch.schema_name, ch.table_name)::regclass
LEFT JOIN _timescaledb_catalog.compression_chunk_size cs ON cs.chunk_id = ch.id
WHERE h.table_name = 'samples' AND h.schema_name = current_schema() AND NOT ch.dropped
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
    row = conn.execute(_TIMESCALE_SQL if flavour.timescaledb else _PLAIN_SQL).fetchone()
    assert row is not None  # an aggregate always answers one row
    return StorageStats(flavour.label, *(int(value) for value in row))
