"""The local spool: every batch is on disk (fsync'd) before it is sent.

Layout: a folder of segment files ``NNNNNNNNNNNN.spool`` written append-only, in
order. A record is a fixed header (magic, payload length, batch id, rows, first
and last source time, CRC-32 of the payload) followed by the payload (binary
COPY rows). A segment is deleted as soon as every batch in it is committed (the
next batch starts a new one), so the spool holds only what the database has not
confirmed, and a segment is never longer than ``segment_bytes``.

On start the segments are read in order; a torn record at the end of the last
segment (the process died mid-write) is cut off — it was never fsync'd, so it was
never sent either. A damaged record inside a segment is skipped up to the next
record whose header and CRC check out, so one bad record never hides the good
ones behind it. A write the disk refuses (full, quota, file size limit) is cut
back off the segment at once and reported as :class:`SpoolDiskFull`. Every
complete record is replayed in order; batches the database already recorded
are skipped there by batch id, which is what makes a crash between COMMIT and deleting the segment harmless.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
import struct
import threading
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

from collectors.errors import StoreError
from collectors.private_files import open_private, private_dir

log = logging.getLogger("linebrain.store")

_MAGIC = b"LBS1"
_HEADER = struct.Struct("!4sI16sIqqI")  # magic, payload length, batch id, rows, first_us, last_us, crc32
SEGMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpoolRecord:
    """Where one spooled batch lives, and what the ledger needs to know of it."""

    batch_id: uuid.UUID
    rows: int
    first_us: int
    last_us: int
    segment: int
    offset: int  # of the payload
    length: int


class SpoolFull(StoreError):
    """The spool reached its size limit: the batch was not spooled."""


class SpoolDiskFull(StoreError):
    """The disk under the spool refused the write (no space, quota, file size limit): the batch was not
    spooled, and nothing of it was left in the segment."""


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def free_disk_bytes(folder: Path) -> int | None:
    """Free bytes on the file system of ``folder`` (None when it cannot be asked)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class Spool:
    """Append-only, fsync'd, size-limited batch files. Thread-safe."""

    def __init__(self, folder: Path | str, max_bytes: int, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # segment -> records not yet committed
        self._sizes: dict[int, int] = {}  # segment -> bytes on disk
        self._current: int | None = None
        self._handle: int | None = None  # fd of the current segment
        self._lock_fd: int | None = None  # one process per spool folder

    # ------------------------------------------------------------------ opening

    def open(self) -> list[SpoolRecord]:
        """Create the folder, read the segments left by an earlier run and return their
        records in order: the replay backlog."""
        private_dir(self.folder)  # spooled samples are plant data: LineBrain's OS user only
        self._lock_fd = open_private(self.folder / ".lock", os.O_WRONLY | os.O_CREAT)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise StoreError(f"spool {self.folder} is in use by another LineBrain process") from None
        records: list[SpoolRecord] = []
        for segment in self._segments():
            found = self._scan(segment)
            self._sizes[segment] = (self.folder / _name(segment)).stat().st_size
            self._pending[segment] = len(found)
            records.extend(found)
        if records:
            log.warning("spool %s: %d batches (%d rows) from an earlier run to replay",
                        self.folder, len(records), sum(r.rows for r in records))  # fmt: skip
        self._drop_finished()
        return records

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.spool") if p.stem.isdigit())

    def _scan(self, segment: int) -> list[SpoolRecord]:
        path = self.folder / _name(segment)
        data = path.read_bytes()
        records: list[SpoolRecord] = []
        offset = 0
        while offset + _HEADER.size <= len(data):
            record = _record_at(data, offset, segment)
            if record is None:
                following = _next_record(data, offset + 1)
                if following is None:
                    break
                log.warning("spool %s: skipping %d damaged bytes at byte %d; the records behind them are kept",
                            path, following - offset, offset)  # fmt: skip
                offset = following
                continue
            records.append(record)
            offset = record.offset + record.length
        if offset < len(data):
            log.warning("spool %s: cutting a torn record at byte %d (%d bytes never committed)",
                        path, offset, len(data) - offset)  # fmt: skip
            with path.open("r+b") as handle:
                handle.truncate(offset)
                os.fsync(handle.fileno())
        return records

    # ------------------------------------------------------------------ writing

    def append(self, batch_id: uuid.UUID, rows: int, first_us: int, last_us: int, payload: bytes) -> SpoolRecord:
        """Write one batch and fsync it. Raises SpoolFull at the size limit."""
        header = _HEADER.pack(_MAGIC, len(payload), batch_id.bytes, rows, first_us, last_us, zlib.crc32(payload))
        size = len(header) + len(payload)
        with self._lock:
            if self.size_bytes() + size > self.max_bytes:
                raise SpoolFull(f"spool {self.folder} is full ({self.size_bytes()} of {self.max_bytes} bytes)")
            if self._handle is None or self._current is None or self._sizes[self._current] + size > self.segment_bytes:
                self._rotate()
            segment, handle = self._current, self._handle
            assert segment is not None and handle is not None  # _rotate opened a segment
            offset = self._sizes[segment]
            data = memoryview(header + payload)
            try:
                while data:  # a regular file takes it in one write, but a signal or a full disk may cut it short
                    data = data[os.write(handle, data) :]
                os.fdatasync(handle)  # data and the new file size: what a replay needs
            except OSError as exc:
                self._cut_back(offset)
                if exc.errno in _DISK_FULL:
                    free = free_disk_bytes(self.folder)
                    raise SpoolDiskFull(f"disk of spool {self.folder} refused a {size}-byte batch ({exc.strerror}; "
                                        f"{_megabytes(free)} free)") from exc  # fmt: skip
                raise
            self._sizes[segment] += size
            self._pending[segment] += 1
            return SpoolRecord(batch_id, rows, first_us, last_us, segment, offset + len(header), len(payload))

    def _cut_back(self, offset: int) -> None:
        """Remove a partly written record, so the segment ends with the last complete one (shrinking a file
        needs no free space)."""
        assert self._handle is not None
        try:
            os.ftruncate(self._handle, offset)
            os.fdatasync(self._handle)
        except OSError as exc:  # the scan at the next start skips the torn bytes instead
            log.error("spool %s: could not cut back a failed write: %s", self.folder, exc)

    def _rotate(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None
        self._current = None
        self._drop_finished()
        segments = list(self._sizes)
        self._current = (max(segments) + 1) if segments else 1
        path = self.folder / _name(self._current)
        self._handle = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._sizes[self._current] = 0
        self._pending[self._current] = 0
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name must survive a power cut too
        finally:
            os.close(dir_fd)

    # ------------------------------------------------------------------ reading and acknowledging

    def read(self, record: SpoolRecord) -> bytes:
        with open(self.folder / _name(record.segment), "rb") as handle:
            handle.seek(record.offset)
            data = handle.read(record.length)
        if len(data) != record.length:
            raise StoreError(f"spool segment {record.segment} is shorter than its index says")
        return data

    def committed(self, record: SpoolRecord) -> None:
        """The database has this batch: its segment may go once nothing in it is pending."""
        with self._lock:
            self._pending[record.segment] -= 1
            self._drop_finished()

    def _drop_finished(self) -> None:
        for segment in list(self._pending):
            if self._pending[segment] > 0:
                continue
            (self.folder / _name(segment)).unlink(missing_ok=True)
            del self._pending[segment]
            del self._sizes[segment]
            if segment == self._current and self._handle is not None:
                os.close(self._handle)
                self._handle = None
                self._current = None

    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    def pending_batches(self) -> int:
        return sum(self._pending.values())

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                os.close(self._handle)
                self._handle = None
            self._drop_finished()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


def _record_at(data: bytes, offset: int, segment: int) -> SpoolRecord | None:
    """The complete, intact record at ``offset``, or None."""
    if offset + _HEADER.size > len(data):
        return None
    magic, length, raw_id, rows, first_us, last_us, crc = _HEADER.unpack_from(data, offset)
    start = offset + _HEADER.size
    if magic != _MAGIC or start + length > len(data) or zlib.crc32(data[start : start + length]) != crc:
        return None
    return SpoolRecord(uuid.UUID(bytes=raw_id), rows, first_us, last_us, segment, start, length)


def _next_record(data: bytes, offset: int) -> int | None:
    """Offset of the next intact record at or after ``offset``."""
    while (found := data.find(_MAGIC, offset)) >= 0:
        if _record_at(data, found, 0) is not None:
            return found
        offset = found + 1
    return None


def _megabytes(count: int | None) -> str:
    return "unknown" if count is None else f"{count / 2**20:.1f} MB"


def _name(segment: int) -> str:
    return f"{segment:012d}.spool"

