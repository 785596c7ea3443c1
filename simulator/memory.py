"""Keeping the cyclic GC away from a large address space (scale mode).

Each full collection walks the whole heap. While 50,000 OPC UA variables are
being built the collector would run again and again as allocations pile up,
and afterwards every full collection (triggered by the values each scale cycle
allocates) would walk ~1 million long-lived node objects for 1–2 s. So the build
runs with the collector paused, and a big address space is then frozen
(``gc.freeze``: ignored by collections) until the server stops and drops it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


FREEZE_ABOVE_NODES = 10_000
_frozen_by_us = 0


def freeze_long_lived() -> None:
    """Move everything alive now out of the collector's sight (after building a big address space)."""
    global _frozen_by_us
    gc.freeze()
    _frozen_by_us += 1


def unfreeze_long_lived() -> None:
    """Undo :func:`freeze_long_lived` once the frozen structures have been released."""
    global _frozen_by_us
    if _frozen_by_us:
        _frozen_by_us -= 1
        if not _frozen_by_us:
            gc.unfreeze()
