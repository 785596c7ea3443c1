"""Historical samples from CSV, through the same exactly-once path as live data.

Columns ``time,tag,value[,quality]`` (a header row is optional). ``time`` is ISO
8601; a time without an offset is read in the plant's time zone, because that is
what a historian export or a spreadsheet on the shop floor means. ``tag`` is a
tag name of the config. ``quality`` is an OPC UA status code (decimal or 0x…) or
one of good / uncertain / bad; empty means good.

Batch ids are derived from the file's SHA-256 and the batch number, so importing
the same file again — or re-running an import that was killed halfway — stores
every row exactly once: batches already in the ledger are skipped.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from collectors.config.models import DataType, Plant
from collectors.errors import StoreError
from collectors.samples import BAD, GOOD, UNCERTAIN, Sample
from collectors.store.rollups import refresh_rollups
from collectors.store.sample_store import SampleStore

log = logging.getLogger("linebrain.import")

_NAMESPACE = uuid.UUID("6f1d1c1e-1b1a-4c55-9a1e-6c1b7a1e0d01")
_QUALITY_WORDS = {"": GOOD, "good": GOOD, "uncertain": UNCERTAIN, "bad": BAD}
_TEXT_TYPES = {DataType.string, DataType.string_bytewise}
Progress = Callable[[int, int], None]  # (bytes read, bytes in the file)


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_stored: int = 0  # in batches committed by this run (flagged rows included)
    rows_rejected: int = 0  # unparseable lines and samples the validation rejected
    batches: int = 0
    batches_skipped: int = 0  # already imported earlier (same file, same batch)
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
    digest = _sha256(path)
    result = ImportResult()
    with tempfile.TemporaryDirectory(prefix="linebrain-import-") as spool_dir:
        store = SampleStore.for_plant(plant, database_url, spool_dir=spool_dir, source=f"import:{path.name}")
        store.start()
        try:
            for index, batch in enumerate(_batches(path, plant, batch_rows, result, progress)):
                store.write(batch, uuid.uuid5(_NAMESPACE, f"{digest}:{batch_rows}:{index}"))
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _batches(
    path: Path, plant: Plant, batch_rows: int, result: ImportResult, progress: Progress | None
) -> Iterator[list[Sample]]:
    zone = ZoneInfo(plant.site.timezone)
    text_tags = {tag.name for tag in plant.tags if tag.data_type in _TEXT_TYPES}
    total = path.stat().st_size
    batch: list[Sample] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for line_no, row in enumerate(reader, start=1):
            if not row or (line_no == 1 and row[0].strip().lower() == "time"):
                continue
            result.rows_read += 1
            try:
                batch.append(_sample(row, zone, text_tags))
            except ValueError as exc:
                result.rows_rejected += 1
                result.reasons["unreadable line"] = result.reasons.get("unreadable line", 0) + 1
                log.warning("%s:%d: %s", path, line_no, exc)
                continue
            if len(batch) >= batch_rows:
                yield batch
                batch = []
                if progress:
                    progress(handle.buffer.tell() if hasattr(handle, "buffer") else 0, total)
    if batch:
        yield batch
    if progress:
        progress(total, total)


def _sample(row: list[str], zone: ZoneInfo, text_tags: set[str]) -> Sample:
    if len(row) < 3:
        raise ValueError(f"expected time,tag,value[,quality], got {len(row)} columns")
    moment = datetime.fromisoformat(row[0].strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    tag = row[1].strip()
    raw = row[2].strip()
    value: float | str | None
    if raw == "":
        value = None
    elif tag in text_tags:
        value = raw
    else:
        value = _number_or_text(raw)  # a string left here is flagged by the store as a type mismatch
    status = _quality(row[3].strip().lower()) if len(row) > 3 else GOOD
    return Sample(tag=tag, time=moment, value=value, status=status)


def _number_or_text(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw


def _quality(raw: str) -> int:
    if raw in _QUALITY_WORDS:
        return _QUALITY_WORDS[raw]
    try:
        return int(raw, 0) & 0xFFFFFFFF
    except ValueError:
        raise ValueError(f"quality {raw!r} is not a status code or good/uncertain/bad") from None
