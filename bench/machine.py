"""What every bench prints with its figures: when, on what, under which load.

docs/performance.md quotes this line next to each figure, so a reader can tell a
figure from a busy shared machine from one on a quiet one.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(*versions: str) -> str:
    """``2026-12-06 21:40 UTC, AMD EPYC ..., 2 cores, Linux 6.x, Python 3.11.7, <versions>, load 1.2 1.5 1.9``
    (load averages over 1, 5 and 15 minutes, read when the figures are printed)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    parts = [f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", cpu_model(), f"{cores} cores",
             f"{platform.system()} {platform.release()}", f"Python {platform.python_version()}", *versions,
             f"load {load}"]
    return ", ".join(parts)
