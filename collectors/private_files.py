"""Files only LineBrain's own OS user may read: keys, spooled samples, logs, tag maps.

Why a helper: a file created with ``open()`` gets the process umask (usually 022,
so world-readable) and a later ``chmod`` leaves a window. These create folders
0700 and files 0600 from the first byte (docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make the folder itself 0700."""
    path.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
    path.chmod(PRIVATE_DIR)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """``os.open`` with mode 0600; an existing file is narrowed to 0600 too."""
    fd = os.open(path, flags, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_private(path: Path, data: bytes | str) -> None:
    """Write a whole file atomically (temp file + rename), 0600 from its first byte."""
    payload = data.encode() if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(open_private(temporary), "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created meanwhile (by a library we cannot hand a mode to) are 0600, folders 0700."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
