"""Sample generators and small plants for the store tests (no drivers needed)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from collectors.config.models import Plant
from collectors.samples import Sample


def plant(tags: int = 3, **storage: object) -> Plant:
    """A plant with ``tags`` numeric tags t0..tN-1 (heartbeat 0: every reading counts) and one text tag."""
    return Plant.model_validate({
        "site": {"name": "Store test"},
        "storage": storage,
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 5020}],
        "tags": [
            *({"name": f"t{i}", "connection": "plc", "table": "holding_register", "address": i * 2,
               "data_type": "float32", "heartbeat": 0} for i in range(tags)),
            {"name": "batch_code", "connection": "plc", "table": "holding_register", "address": 100,
             "data_type": "string", "length": 4, "heartbeat": 0},
        ],
    })  # fmt: skip


def ramp(tags: int, count: int, start: datetime | None = None, step_ms: int = 10) -> list[Sample]:
    """``count`` readings per tag with distinct times and values: easy to count exactly."""
    start = start or datetime.now(UTC) - timedelta(minutes=5)
    return [
        Sample(tag=f"t{t}", time=start + timedelta(milliseconds=i * step_ms), value=float(i))
        for i in range(count)
        for t in range(tags)
    ]


def counts_per_tag(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute(
            "SELECT t.name, count(*) FROM samples s JOIN tags t ON t.id = s.tag_id GROUP BY t.name"
        ).fetchall())  # fmt: skip


def duplicates(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM samples GROUP BY tag_id, time HAVING count(*) > 1) d"
        ).fetchone()[0]


def scale_plant(port: int, tags: int, poll_interval: float = 0.1, **storage: object) -> Plant:
    """A plant reading the simulator's scale tags (unit 100, holding registers 0..N-1) over Modbus.

    Deadband 0 and a long heartbeat: exactly one stored sample per value change.
    """
    return Plant.model_validate({
        "site": {"name": "Scale"},
        "storage": storage,
        "connections": [{"id": "sim", "protocol": "modbus", "host": "127.0.0.1", "port": port,
                         "poll_groups": [{"name": "default", "interval": poll_interval}]}],
        "tags": [{"name": f"s{i}", "connection": "sim", "unit_id": 100, "table": "holding_register", "address": i,
                  "data_type": "uint16", "heartbeat": 3600} for i in range(tags)],
    })  # fmt: skip


def cycle_of(index: int, value: int, seed: int) -> int:
    """Invert the simulator's scale formula value = (7·i + seed + 13·cycle) mod 65536 (13 is odd: invertible)."""
    return ((value - 7 * index - seed) * pow(13, -1, 65536)) % 65536


def stored_cycles(url: str, seed: int) -> dict[int, list[int]]:
    """Per scale tag index, the cycles whose values were stored, in time order (duplicates kept)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT t.name, s.value FROM samples s JOIN tags t ON t.id = s.tag_id WHERE t.name ~ '^s[0-9]+$' "
            "ORDER BY t.name, s.time"
        ).fetchall()
    cycles: dict[int, list[int]] = {}
    for name, value in rows:
        index = int(name[1:])
        cycles.setdefault(index, []).append(cycle_of(index, int(value), seed))
    return cycles


@contextlib.contextmanager
def tiny_filesystem(folder: Path, size_kb: int) -> Iterator[Path]:
    """A real, small file system at ``folder`` (a tmpfs of ``size_kb`` KiB), unmounted afterwards: a disk
    that fills up for real. Needs root (the tests run as root; CI runs them in a root container)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


async def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s until it holds; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)
