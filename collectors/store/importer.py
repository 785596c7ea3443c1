"""Historical samples from CSV, through the same exactly-once path as live data.

Columns ``time,tag,value[,quality]`` (a header row is optional). ``time`` is ISO
8601; a time without an offset is read in the plant's time zone, because that is
what a historian export or a spreadsheet on the shop floor means (a local time
that falls in a DST gap or fold is stored Uncertain: it does not name one
instant). ``tag`` is a tag name of the config. ``quality`` is an OPC UA status
code (decimal or 0x…, 32 bits) or one of good / uncertain / bad; empty means
good — except for an empty value, which is stored Bad_NoData.

A sample is identified by its content, not by how the file was cut into
batches: a row whose tag and time are already stored (by an earlier import of
this or another file, or by a collector) is skipped and counted as already
stored, and so is a row repeating a tag and time earlier in the same file.
Re-running an import, with any ``--batch-rows``, after a crash, or on the same
file with rows appended, stores only the rows that are new. Each batch's id is
the digest of its encoded rows, so two imports of the same file racing each
other still commit each batch once.

A line that cannot be read (not UTF-8, a field over the csv module's limit,
too few columns, a bad time or quality, an unknown tag) is counted as
unreadable with its ``file:line`` and the import goes on.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from collectors.config.models import DataType, Plant
from collectors.errors import StoreError
from collectors.samples import BAD, BAD_NO_DATA, GOOD, UNCERTAIN, Sample, is_good
from collectors.store.rollups import refresh_rollups
from collectors.store.rows import TagInfo, unix_us
from collectors.store.sample_store import SampleStore

log = logging.getLogger("linebrain.import")

_NAMESPACE = uuid.UUID("6f1d1c1e-1b1a-4c55-9a1e-6c1b7a1e0d01")
_QUALITY_WORDS = {"": GOOD, "good": GOOD, "uncertain": UNCERTAIN, "bad": BAD}
_LOGGED_LINES = 20  # unreadable lines logged with file:line per reason; the rest are counted
_RECENT_BATCHES = 6  # batches whose keys are kept for in-file repeats: more than can be in flight
_TEXT_TYPES = {DataType.string, DataType.string_bytewise}
Progress = Callable[[int, int], None]  # (bytes read, bytes in the file)


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_stored: int = 0  # in batches committed by this run (flagged rows included)
    rows_rejected: int = 0  # unreadable lines and samples the validation rejected
    rows_already_stored: int = 0  # same tag and time stored before, or earlier in the file: skipped
    batches: int = 0
    batches_skipped: int = 0  # committed by a concurrent import of the same rows
    reasons: dict[str, int] = field(default_factory=dict)
    rollup_error: str = ""  # the rollup refresh after the import failed (the rows are stored)


def import_csv(
    path: Path | str,
    config: Plant | Path | str,
    database_url: str,
    *,
    batch_rows: int = 20_000,
    progress: Progress | None = None,
    timeout: float = 300.0,
) -> ImportResult:
    """Load a CSV of samples into ``database_url`` exactly once; returns what happened.

    ``config`` is a :class:`Plant` or the path of its YAML file. Raises StoreError
    when the database accepts nothing for ``timeout`` s (re-running is safe).
    """
    from collectors.config import load_plant

    plant = config if isinstance(config, Plant) else load_plant(Path(config))
    path = Path(path)
    result = ImportResult()
    with tempfile.TemporaryDirectory(prefix="linebrain-import-") as spool_dir, \
            psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:  # fmt: skip
        store = SampleStore.for_plant(plant, database_url, spool_dir=spool_dir, source=f"import:{path.name}")
        store.start()
        recent: deque[set[tuple[int, int]]] = deque(maxlen=_RECENT_BATCHES)
        try:
            for batch in _batches(path, plant, batch_rows, result, progress):
                fresh = _new_samples(conn, store.encoder.tags, batch, recent)
                result.rows_already_stored += len(batch) - len(fresh)
                encoded = store.encoder.encode(fresh)
                if encoded is not None:
                    store.write_encoded(encoded, uuid.uuid5(_NAMESPACE, hashlib.sha256(encoded.payload).hexdigest()))
                _wait_for(store, 4, timeout)
            if not store.flush(timeout):
                raise StoreError(f"import of {path}: the database did not accept the last batches within {timeout} s; "
                                 "re-run the import, it skips what is already stored")  # fmt: skip
        finally:
            store.close(timeout=1.0)
    stats, validation = store.stats, store.encoder.validation
    result.rows_stored = stats.rows_committed
    result.batches = stats.batches_committed
    result.batches_skipped = stats.batches_skipped
    for reason, count in validation.rejected.items():
        result.reasons[reason] = result.reasons.get(reason, 0) + count
        result.rows_rejected += count
    for reason, count in validation.flagged.items():
        result.reasons[f"stored flagged: {reason}"] = count
    try:
        refresh_rollups(database_url)
    except psycopg.Error as exc:  # the rows are in; only the rollups lag, and the collector's refresher retries
        result.rollup_error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        log.error("rollup refresh after the import FAILED: %s", exc)
    return result


def _wait_for(store: SampleStore, most: int, timeout: float) -> None:
    """Keep at most ``most`` batches in flight, so memory stays bounded."""
    deadline = time.monotonic() + timeout
    while store.pending_batches() > most:
        if time.monotonic() > deadline:
            raise StoreError(f"the database accepted nothing for {timeout} s: {store.stats.last_error}")
        time.sleep(0.005)


_STORED_KEYS = """
SELECT s.tag_id, s.time
FROM unnest(%s::integer[], %s::timestamptz[]) AS k(tag_id, time)
JOIN samples s ON s.tag_id = k.tag_id AND s.time = k.time
WHERE s.time BETWEEN %s AND %s
"""


def _new_samples(
    conn: psycopg.Connection, tags: dict[str, TagInfo], batch: list[Sample], recent: deque[set[tuple[int, int]]]
) -> list[Sample]:
    """The samples of ``batch`` whose (tag, time) is neither stored yet nor earlier in the file."""
    keys = [(tags[sample.tag].tag_id, unix_us(sample.time)) for sample in batch]
    seen: set[tuple[int, int]] = set()
    for earlier in recent:
        seen |= earlier
    times = [sample.time for sample in batch]
    rows = conn.execute(_STORED_KEYS, ([key[0] for key in keys], times, min(times), max(times))).fetchall()
    seen.update((tag_id, unix_us(moment)) for tag_id, moment in rows)
    fresh: list[Sample] = []
    mine: set[tuple[int, int]] = set()
    for key, sample in zip(keys, batch, strict=True):
        if key in seen or key in mine:
            continue
        mine.add(key)
        fresh.append(sample)
    recent.append(mine)
    return fresh


def _batches(
    path: Path, plant: Plant, batch_rows: int, result: ImportResult, progress: Progress | None
) -> Iterator[list[Sample]]:
    reader = _RowReader(path, plant, result)
    total = path.stat().st_size
    batch: list[Sample] = []
    with path.open("rb") as raw, io.TextIOWrapper(raw, newline="", encoding="utf-8-sig",
                                                   errors="surrogateescape") as handle:
        for sample in reader.samples(handle):
            batch.append(sample)
            if len(batch) >= batch_rows:
                yield batch
                batch = []
                if progress:
                    progress(raw.tell(), total)  # bytes the text reader has taken so far
    if batch:
        yield batch
    if progress:
        progress(total, total)


class _RowReader:
    """CSV lines → samples; a line it cannot use is counted (and logged with ``file:line``), never fatal."""

    def __init__(self, path: Path, plant: Plant, result: ImportResult) -> None:
        self.path = path
        self.zone = ZoneInfo(plant.site.timezone)
        self.text_tags = {tag.name for tag in plant.tags if tag.data_type in _TEXT_TYPES}
        self.known = {tag.name for tag in plant.tags}
        self.result = result
        self._logged: dict[str, int] = {}

    def samples(self, handle: object) -> Iterator[Sample]:
        reader = csv.reader(handle)  # type: ignore[arg-type]
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a field larger than the csv module's limit (128 KB)
                self.result.rows_read += 1
                self._unreadable(reader.line_num, "unreadable line", str(exc))
                continue
            if not row or (reader.line_num == 1 and row[0].strip().lower() in ("time", "\ufefftime")):
                continue
            self.result.rows_read += 1
            try:
                "".join(row).encode()
            except UnicodeEncodeError:
                self._unreadable(reader.line_num, "unreadable line", "not UTF-8")
                continue
            try:
                sample = self._sample(row)
            except _Unknown as exc:
                self._unreadable(reader.line_num, "unknown tag", str(exc))
                continue
            except ValueError as exc:
                self._unreadable(reader.line_num, "unreadable line", str(exc))
                continue
            yield sample

    def _unreadable(self, line: int, reason: str, detail: str) -> None:
        self.result.rows_rejected += 1
        self.result.reasons[reason] = self.result.reasons.get(reason, 0) + 1
        logged = self._logged[reason] = self._logged.get(reason, 0) + 1
        if logged <= _LOGGED_LINES:
            more = "; further ones are only counted" if logged == _LOGGED_LINES else ""
            log.warning("%s:%d: %s: %s%s", self.path, line, reason, detail, more)

    def _sample(self, row: list[str]) -> Sample:
        if len(row) < 3:
            raise ValueError(f"expected time,tag,value[,quality], got {len(row)} columns")
        tag = row[1].strip()
        if tag not in self.known:
            raise _Unknown(f"{tag!r} is not a tag of the config")
        moment = datetime.fromisoformat(row[0].strip())
        status = _quality(row[3].strip().lower()) if len(row) > 3 else GOOD
        if moment.tzinfo is None:
            moment, exact = _local(moment, self.zone)
            if not exact and is_good(status):
                status = UNCERTAIN
                self.result.reasons["stored flagged: local time in a DST gap or fold"] = (
                    self.result.reasons.get("stored flagged: local time in a DST gap or fold", 0) + 1)  # fmt: skip
        raw = row[2].strip()
        value: float | str | None
        if raw == "":
            value = None
            if is_good(status):
                status = BAD_NO_DATA
        elif tag in self.text_tags:
            value = raw
        else:
            value = _number_or_text(raw)  # a string left here is flagged by the store as a type mismatch
        return Sample(tag=tag, time=moment, value=value, status=status)


class _Unknown(ValueError):
    """A tag name the config does not have."""


def _local(moment: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """A naive local time in ``zone``; False when it names no single instant (a DST gap or fold)."""
    early, late = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early, True
    return early, False  # ambiguous (a fold) or nonexistent (a gap): stored at the earlier offset, flagged


def _number_or_text(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw


def _quality(raw: str) -> int:
    if raw in _QUALITY_WORDS:
        return _QUALITY_WORDS[raw]
    try:
        code = int(raw, 0)
    except ValueError:
        raise ValueError(f"quality {raw!r} is not a status code or good/uncertain/bad") from None
    if not 0 <= code <= 0xFFFFFFFF:
        raise ValueError(f"quality {raw!r} is not a 32-bit status code")
    return code
