"""End to end: simulator (scale mode) → Modbus collector → pipeline → store → PostgreSQL.

The simulator runs as its own process (``linebrain simulate --tags N``): N
holding registers that all change every ``--scale-interval`` seconds. The
collector is a :class:`CollectorService` in this process with one Modbus
connection per simulated unit (10,000 tags each), polling every
``--poll-interval`` seconds; report by exception stores each change once. A
fresh embedded PostgreSQL takes the rows.

Measured after ``--warmup`` seconds, over ``--seconds``: committed rows per
second, and the latency from each sample's source timestamp (for Modbus: when
the register was read) to the commit of its batch, p50 and p99.

Usage: .venv/bin/python bench/pipeline.py [--seconds 60] [--tags 60000] [--poll-interval 1.0]
Goal (issue 6): ≥ 50,000 samples/s sustained with p99 < 2 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collectors.config.models import Plant
from collectors.database.embedded import EmbeddedPostgres
from collectors.database.migrations import migrate
from collectors.service import CollectorService, ServiceOptions

REPO = Path(__file__).resolve().parent.parent
TAGS_PER_UNIT = 10_000
FIRST_UNIT = 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plant(port: int, tags: int, poll_interval: float, batch_age: float) -> Plant:
    units = (tags + TAGS_PER_UNIT - 1) // TAGS_PER_UNIT
    return Plant.model_validate({
        "site": {"name": "pipeline bench"},
        "storage": {"batch_max_age_s": batch_age},  # batch_max_rows 20,000 and the queue: config defaults
        "connections": [
            {"id": f"unit{u}", "protocol": "modbus", "host": "127.0.0.1", "port": port, "timeout": 5.0,
             "poll_groups": [{"name": "default", "interval": poll_interval}]}
            for u in range(units)
        ],
        "tags": [
            {"name": f"s{i}", "connection": f"unit{i // TAGS_PER_UNIT}", "unit_id": FIRST_UNIT + i // TAGS_PER_UNIT,
             "table": "holding_register", "address": i % TAGS_PER_UNIT, "data_type": "uint16", "heartbeat": 3600}
            for i in range(tags)
        ],
    })  # fmt: skip


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"simulator did not open port {port}")


async def measure(service: CollectorService, warmup: float, seconds: float) -> dict[str, float]:
    running = asyncio.create_task(service.run())
    await asyncio.wait_for(service.started.wait(), 120)
    pipeline = service.pipeline
    store = pipeline.store
    await asyncio.sleep(warmup)
    store.stats.latency.reset()
    rows0, reads0, t0 = store.stats.rows_committed, pipeline.stats.samples_in, time.monotonic()
    depth_max = 0
    while time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.5)
        depth_max = max(depth_max, pipeline.queue_depth())
    elapsed = time.monotonic() - t0
    rows, reads = store.stats.rows_committed - rows0, pipeline.stats.samples_in - reads0
    latency = store.stats.latency
    overruns = sum(worker.health()["overruns"] for worker in service.workers)
    result = {
        "stored_per_s": rows / elapsed,
        "read_per_s": reads / elapsed,
        "p50": latency.quantile(0.5) or float("nan"),
        "p99": latency.quantile(0.99) or float("nan"),
        "queue_max": depth_max,
        "dropped": pipeline.stats.samples_dropped_queue_full + store.stats.rows_dropped_spool_full,
        "overruns": overruns,
        "elapsed": elapsed,
    }
    service.stop()
    await asyncio.wait_for(running, 120)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--tags", type=int, default=60_000)
    parser.add_argument("--scale-interval", type=float, default=1.0, help="seconds between changes of every tag")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--batch-age", type=float, default=1.0, help="batch_max_age_s")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="linebrain-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg", port=free_port())
        url = server.start().url()
        modbus_port = free_port()
        simulator = subprocess.Popen(
            [sys.executable, "-m", "mes.cli", "simulate", "--scenario", "brewery", "--opcua-port", "-1",
             "--modbus-port", str(modbus_port), "--tags", str(args.tags), "--scale-interval", str(args.scale_interval)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            migrate(url)
            wait_for_port(modbus_port)
            config = plant(modbus_port, args.tags, args.poll_interval, args.batch_age)
            # Everything a collector does, rollup refresh (every 30 s) and metrics endpoint included.
            options = ServiceOptions(spool_dir=Path(tmp) / "spool", metrics_port=0, announce=False)
            result = asyncio.run(measure(CollectorService(config, url, options), args.warmup, args.seconds))
        finally:
            simulator.send_signal(signal.SIGINT)
            try:
                simulator.wait(10)
            except subprocess.TimeoutExpired:
                simulator.kill()
            server.stop()

    from bench.machine import describe

    print(f"machine: {describe()}")
    print(f"simulator: {args.tags:,d} Modbus tags changing every {args.scale_interval:g} s; collector: "
          f"{(args.tags + TAGS_PER_UNIT - 1) // TAGS_PER_UNIT} connections polling every {args.poll_interval:g} s")
    print(f"measured {result['elapsed']:.0f} s after {args.warmup:g} s warm-up:")
    print(f"  stored   {result['stored_per_s']:>10,.0f} samples/s   (goal ≥ 50,000)")
    print(f"  read     {result['read_per_s']:>10,.0f} readings/s (before report by exception)")
    print(f"  latency  p50 ≤ {result['p50']:.2f} s, p99 ≤ {result['p99']:.2f} s  "
          "(source time → committed; goal p99 < 2 s)")
    print(f"  queue max {result['queue_max']:,d} samples, dropped {result['dropped']:,d}, "
          f"poll overruns {result['overruns']:,d}")  # fmt: skip


if __name__ == "__main__":
    main()
