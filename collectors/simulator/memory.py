"""Building tens of thousands of small objects at once (scale mode) without the cyclic GC.

Each full collection walks the whole heap; while a large address space is being
built, the collector would run again and again as allocations pile up, taking
most of the start time. Nothing built here forms garbage cycles worth collecting.
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
