"""The sample store: validate → spool (fsync) → COPY with the batch id, in order.

``write()`` is called by whoever forms batches (the pipeline's batcher, the CSV
importer). It validates and encodes the samples, gives the batch an id, appends
it to the spool and returns; it never waits for the database. One sender
thread sends spooled batches in spool order: at most one is in flight, so the
order of commits is the order of writes, and a batch that fails (database
down, connection lost mid-COPY, an unknown COMMIT outcome) is retried until
the ledger says it is in. After a restart the spool's leftovers are sent first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
import uuid
from array import array
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import psycopg

from collectors.config.models import Plant
from collectors.database.flavour import database_flavour
from collectors.database.tags import sync_tags
from collectors.errors import StoreError
from collectors.private_files import private_dir, write_private
from collectors.samples import Sample
from collectors.store.ledger import PartitionCache, commit_batch
from collectors.store.rows import EncodedBatch, RowEncoder, catalog, from_unix_us, split_rows
from collectors.store.spool import Spool, SpoolDiskFull, SpoolFull, SpoolRecord, free_disk_bytes
from collectors.store.stats import StoreStats

log = logging.getLogger("linebrain.store")

NEAR_FULL_RATIO = 0.8
_RETRY_MIN_S, _RETRY_MAX_S = 0.2, 5.0
_QUARANTINE_AFTER = 3  # attempts of a batch the database refuses for its content
_CACHED_BATCHES = 8  # pending batches whose bytes stay in memory
SWITCH_INTERVAL_S = 0.0005


@dataclass
class _Outgoing:
    record: SpoolRecord
    payload: bytes | None  # cached for fresh batches; read from the spool for replayed ones
    times_us: array[int] | None = None  # source times (Unix µs), for the latency histogram
    spooled_at: float = 0.0
    attempts: int = 0


class SampleStore:
    """Exactly-once sample writer. Start it, ``write()`` batches, ``close()`` it."""

    target = "the database"  # where the batches go, for the log (a subclass sends elsewhere)

    def __init__(self, database_url: str, encoder: RowEncoder, spool: Spool, *, source: str = "") -> None:
        self.database_url = database_url
        self.encoder = encoder
        self.spool = spool
        self.source = source
        self.stats = StoreStats()
        self._outgoing: deque[_Outgoing] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._partitions = PartitionCache()
        self._conn: psycopg.Connection | None = None
        self._last_near_full_log = 0.0

    @classmethod
    def for_plant(
        cls,
        plant: Plant,
        database_url: str,
        *,
        spool_dir: Path | str | None = None,
        source: str = "",
        max_future_s: float = 86_400.0,
    ) -> SampleStore:
        """A store for a plant config: syncs the tag registry, sizes the spool from
        ``storage`` (``spool_dir`` overrides the config's folder).

        The tag ids are also kept in the spool folder, so a collector restarted while
        the database is down can still spool (its rows carry tag ids) and catch up later.
        """
        folder = Path(spool_dir or plant.storage.spool_dir or default_spool_dir())
        ids = _tag_ids(plant, database_url, folder)
        encoder = RowEncoder(
            catalog(plant, ids), max_age_s=(plant.storage.retention_days + 1) * 86_400.0, max_future_s=max_future_s
        )
        return cls(database_url, encoder, Spool(folder, plant.storage.spool_max_mb * 1024 * 1024), source=source)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the spool (queueing what an earlier run left) and start sending.

        Also lowers the interpreter's thread switch interval to 0.5 ms (never raises it):
        the sender needs the GIL for a moment at every step of a COPY, and with the
        default 5 ms it waits behind the batcher's encoding or a driver's decoding at
        each one; measured on the store bench, 0.5 ms gave about 20% more rows/s.
        """
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        leftovers = self.spool.open()
        with self._cond:
            for record in leftovers:
                self._outgoing.append(_Outgoing(record, None, None, time.monotonic()))
        self._thread = threading.Thread(target=self._send_loop, name="linebrain-store", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> bool:
        """Send what is pending for up to ``timeout`` s, then stop. What is not sent
        stays in the spool for the next start. True when nothing was left."""
        with self._cond:
            self._stopping = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout + 5)
        left = self.pending_batches()
        self.spool.close()
        if self._conn is not None:
            self._conn.close()
        if left:
            log.warning("store stopped with %d batches left in the spool %s; they are sent on the next start",
                        left, self.spool.folder)  # fmt: skip
        return left == 0

    # ------------------------------------------------------------------ writing

    def write(self, samples: list[Sample], batch_id: uuid.UUID | None = None) -> uuid.UUID | None:
        """Validate, encode and spool one batch; returns its id, or None when nothing
        was left to store (all rejected) or the spool is full (counted and logged)."""
        batch = self.encoder.encode(samples)
        if batch is None:
            return None
        return self.write_encoded(batch, batch_id or uuid.uuid4())

    def write_encoded(self, batch: EncodedBatch, batch_id: uuid.UUID) -> uuid.UUID | None:
        try:
            record = self.spool.append(batch_id, batch.rows, batch.first_us, batch.last_us, batch.payload)
        except SpoolFull as exc:
            self.stats.rows_dropped_spool_full += batch.rows
            log.error("%s: %d samples DROPPED; %s has been unreachable too long (%s)",
                      exc, batch.rows, self.target, self.stats.last_error or "no error recorded")  # fmt: skip
            self._check_near_full()
            return None
        except SpoolDiskFull as exc:
            self.stats.rows_dropped_disk_full += batch.rows
            log.error("DISK FULL: %s: %d samples DROPPED", exc, batch.rows)
            self._check_near_full()
            return None
        self.stats.batches_spooled += 1
        self.stats.rows_spooled += batch.rows
        self._check_near_full()
        with self._cond:
            # Only a short backlog keeps its bytes in memory; behind an outage the spool file is
            # the copy (the sender reads it back), so memory stays flat however long it lasts.
            cached = len(self._outgoing) < _CACHED_BATCHES
            self._outgoing.append(_Outgoing(record, batch.payload if cached else None,
                                            batch.times_us if cached else None, time.monotonic()))  # fmt: skip
            self._cond.notify_all()
        return batch_id

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every spooled batch is committed. True when it happened in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outgoing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def pending_batches(self) -> int:
        with self._cond:
            return len(self._outgoing)

    def _check_near_full(self) -> None:
        """Near full: the spool holds 80% of its limit, or the disk under it has less free space than a fifth
        of the limit. Warned at most every 30 s, with the free disk space."""
        ratio = self.spool.size_bytes() / self.spool.max_bytes
        free = free_disk_bytes(self.spool.folder)
        near = ratio >= NEAR_FULL_RATIO or (free is not None and free < self.spool.max_bytes * (1 - NEAR_FULL_RATIO))
        self.stats.spool_near_full = near
        now = time.monotonic()
        if near and now - self._last_near_full_log > 30:
            self._last_near_full_log = now
            log.warning("SPOOL NEAR FULL: %s holds %.0f%% of its %d MB limit (%d batches waiting), %s free on its "
                        "disk; %s is not keeping up or unreachable: %s", self.spool.folder, ratio * 100,
                        self.spool.max_bytes // (1024 * 1024), self.pending_batches(),
                        "unknown" if free is None else f"{free / 2**20:.1f} MB", self.target,
                        self.stats.last_error or "-")  # fmt: skip

    # ------------------------------------------------------------------ sending

    def _send_loop(self) -> None:
        backoff = _RETRY_MIN_S
        while True:
            with self._cond:
                while not self._outgoing and not self._stopping:
                    self._cond.wait()
                if not self._outgoing or (self._stopping and time.monotonic() >= self._deadline):
                    return
                item = self._outgoing[0]
            if self._send(item):
                backoff = _RETRY_MIN_S
                with self._cond:
                    self._outgoing.popleft()
                    self._cond.notify_all()
                self.spool.committed(item.record)
                self._check_near_full()
                continue
            with self._cond:  # wait before retrying, but wake for a stop
                retry_at = time.monotonic() + backoff
                while time.monotonic() < min(retry_at, self._deadline):
                    self._cond.wait(min(retry_at, self._deadline) - time.monotonic())
            backoff = min(backoff * 2, _RETRY_MAX_S)

    def _send(self, item: _Outgoing) -> bool:
        """One attempt; True when the batch is in the database (now or before)."""
        record = item.record
        started = time.monotonic()
        try:
            payload = item.payload if item.payload is not None else self.spool.read(record)
            conn = self._connection()
            self._partitions.ensure(conn, from_unix_us(record.first_us), from_unix_us(record.last_us))
            committed = commit_batch(conn, record.batch_id, payload, record.rows, record.first_us, record.last_us,
                                     self.source)  # fmt: skip
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self._lost_connection(exc)
            return False
        except psycopg.DataError as exc:
            # The content is refused (a value PostgreSQL cannot take): retrying cannot help, and one bad
            # row must not take the rows around it down. Split the batch until the bad rows stand alone.
            self.stats.last_error = f"{type(exc).__name__}: {exc}".strip()
            log.error("batch %s refused by the database for its content (%s); isolating the bad rows",
                      record.batch_id, exc)  # fmt: skip
            self._reset_connection()
            try:
                committed = self._isolate(record, payload)
            except (psycopg.OperationalError, psycopg.InterfaceError) as lost:
                self._lost_connection(lost)
                return False
        except psycopg.Error as exc:
            item.attempts += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}".strip()
            log.error("batch %s refused by the database (attempt %d): %s", record.batch_id, item.attempts, exc)
            self._reset_connection()
            if item.attempts >= _QUARANTINE_AFTER:
                self._quarantine(item, payload if "payload" in locals() else None)
                return True
            return False
        except Exception as exc:  # a bug of ours or an OS error: the sender must live on and retry
            self.stats.last_error = f"{type(exc).__name__}: {exc}".strip()
            log.exception("sending batch %s failed; retrying", record.batch_id)
            self._reset_connection()
            return False
        now = time.monotonic()
        if not self.stats.database_up and self.stats.last_error:
            log.warning("database reachable again; sending the %d spooled batches", self.pending_batches())
            self.stats.last_error = ""
        self.stats.database_up = True
        self.stats.last_commit_seconds = now - started
        self.stats.last_flush_seconds = now - item.spooled_at
        if committed:
            self.stats.batches_committed += 1
            self.stats.rows_committed += record.rows
            self.stats.committed_rate.update(self.stats.rows_committed)
            if item.times_us is not None:
                self.stats.latency.observe_batch(round(time.time() * 1_000_000), item.times_us)
        else:
            self.stats.batches_skipped += 1
            log.info("batch %s was already committed; skipped", record.batch_id)
        return True

    def _isolate(self, record: SpoolRecord, payload: bytes) -> bool:
        """Commit a refused batch in halves, recursively, each under an id derived from the batch id and its
        position (so a replay after a crash skips the parts already in); a single refused row goes to the
        quarantine folder, counted. Finally the batch id itself is recorded (no rows), so a replay is skipped
        at once. Returns True when the batch was committed now, False when it had been before."""
        conn = self._connection()
        if conn.execute("SELECT 1 FROM store_batches WHERE batch_id = %s", (record.batch_id,)).fetchone():
            return False  # recorded earlier: every part is in (the batch id is recorded last)
        committed_rows = self._commit_parts(record, split_rows(payload), "")
        commit_batch(self._connection(), record.batch_id, b"", 0, record.first_us, record.last_us, self.source)
        self.stats.rows_committed += committed_rows
        return True

    def _commit_parts(self, record: SpoolRecord, rows: list[bytes], label: str) -> int:
        part_id = uuid.uuid5(record.batch_id, f"part:{label}")
        try:
            commit_batch(self._connection(), part_id, b"".join(rows), len(rows), record.first_us, record.last_us,
                         self.source)  # fmt: skip
            return len(rows)
        except psycopg.DataError as exc:
            self._reset_connection()
            if len(rows) == 1:
                self._quarantine_row(record, label, rows[0], exc)
                return 0
        half = len(rows) // 2
        return self._commit_parts(record, rows[:half], label + "0") + self._commit_parts(record, rows[half:],
                                                                                          label + "1")

    def _quarantine_row(self, record: SpoolRecord, label: str, row: bytes, exc: Exception) -> None:
        folder = private_dir(self.spool.folder / "quarantine")
        write_private(folder / f"{record.batch_id}-{label or 'row'}.copy", row)
        self.stats.rows_quarantined += 1
        log.error("one sample of batch %s quarantined in %s: the database refuses it: %s", record.batch_id,
                  folder, exc)  # fmt: skip

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=3)
            self._partitions.forget()
            self.stats.flavour = database_flavour(self._conn).label
        return self._conn

    def _lost_connection(self, exc: Exception) -> None:
        if self.stats.database_up or not self.stats.last_error:
            log.warning("database unreachable, batches stay in the spool and are retried: %s", exc)
        self.stats.database_up = False
        self.stats.last_error = f"{type(exc).__name__}: {exc}".strip()
        self._reset_connection()

    def _reset_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _quarantine(self, item: _Outgoing, payload: bytes | None) -> None:
        """A batch the database keeps refusing for its content must not block the ones
        behind it forever: keep its bytes aside for a human and move on."""
        folder = private_dir(self.spool.folder / "quarantine")
        if payload is not None:
            write_private(folder / f"{item.record.batch_id}.copy", payload)
        self.stats.batches_quarantined += 1
        self.stats.rows_quarantined += item.record.rows
        log.error("batch %s (%d rows) quarantined in %s after %d refusals: %s", item.record.batch_id,
                  item.record.rows, folder, item.attempts, self.stats.last_error)  # fmt: skip


def _tag_ids(plant: Plant, database_url: str, folder: Path) -> dict[str, int]:
    """Sync the registry and remember the ids; without a database, the remembered ones."""
    cache = folder / "tag_ids.json"
    ids: dict[str, int]
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            ids = sync_tags(conn, plant)
    except psycopg.OperationalError as exc:
        try:
            ids = dict(json.loads(cache.read_text()))
        except (OSError, ValueError):
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreError(f"database unreachable and no tag ids remembered in {folder}: {reason}") from exc
        missing = [tag.name for tag in plant.tags if tag.name not in ids]
        log.warning("database unreachable (%s); spooling with the tag ids remembered in %s%s", exc, cache,
                    f"; {len(missing)} new tags are rejected until it is back" if missing else "")  # fmt: skip
        return ids
    private_dir(folder)
    write_private(cache, json.dumps(ids))
    return ids


def default_spool_dir() -> Path:
    from collectors.database.embedded import default_data_dir

    return default_data_dir() / "spool"
