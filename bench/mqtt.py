"""Collectors → Mosquitto → ingest → PostgreSQL beside collectors → PostgreSQL, in the same run.

Both paths get the same offered load from ``--collectors`` processes (default 4),
each writing ``--rate`` samples/s of its own ``--tags`` tags for ``--seconds``,
in batches every ``--tick`` s, stamped with the time they were made:

- ``mqtt``: each collector process is a Sparkplug B edge node
  (``SparkplugEdge``: spool, then QoS 1 publish) to a real Mosquitto on a free
  port; ``--ingest`` processes (default 2) of ``SparkplugHost`` share the data
  (MQTT 5 shared subscription) and store it exactly once;
- ``direct``: each collector process writes with ``SampleStore`` (spool, then
  COPY) into the same database.

Figures: samples stored per second (the good rows in the database over the time
from the first sample's source time to the last commit) and the end-to-end latency from
a sample's source time to the commit of its row (p50, p99, as the store's
latency histogram buckets them), over every sample of the run.

Usage: .venv/bin/python bench/mqtt.py [--collectors 4] [--ingest 2] [--rate 5000] [--tags 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from bench.store import free_port
from collectors.config.models import Plant
from collectors.database.embedded import EmbeddedPostgres
from collectors.database.migrations import migrate
from collectors.samples import Sample
from collectors.store import SampleStore
from collectors.store.stats import LATENCY_BOUNDS


def plant(collectors: int, tags: int, broker_url: str) -> Plant:
    return Plant.model_validate({
        "site": {"name": "bench"},
        "mqtt": {"url": broker_url, "share": f"bench{time.time_ns()}"},
        "connections": [{"id": f"plc{c}", "protocol": "modbus", "host": "127.0.0.1", "port": 502}
                        for c in range(collectors)],
        "tags": [{"name": f"c{c}_t{i}", "connection": f"plc{c}", "table": "holding_register", "address": i,
                  "data_type": "float32", "heartbeat": 0} for c in range(collectors) for i in range(tags)],
    })  # fmt: skip


def collector(mode: str, index: int, config: dict[str, Any], url: str, spool: str, rate: int, tags: int,
              seconds: float, tick: float, results: Any) -> None:  # fmt: skip
    """One collector process: offers ``rate`` samples/s for ``seconds`` s, then waits until all is sent."""
    from collectors.mqtt import SparkplugEdge

    the_plant = Plant.model_validate(config)
    mine = [tag for tag in the_plant.tags if tag.connection == f"plc{index}"]
    if mode == "mqtt":
        store: SampleStore = SparkplugEdge.for_node(the_plant, f"collect-{index}", mine, spool)
    else:
        store = SampleStore.for_plant(the_plant, url, spool_dir=spool, source=f"bench-{index}")
    store.start()
    per_tick = max(1, round(rate * tick))
    started = time.monotonic()
    sent = 0
    step = 0
    while time.monotonic() - started < seconds:
        now = datetime.now(UTC)
        store.write([Sample(mine[(sent + i) % tags].name, now + timedelta(microseconds=i), float(sent + i))
                     for i in range(per_tick)])  # fmt: skip
        sent += per_tick
        step += 1
        time.sleep(max(0.0, started + step * tick - time.monotonic()))
    store.flush(120)
    store.close(10)
    results.put(("collector", sent, store.stats.latency.counts if mode == "direct" else None))


def ingest(index: int, config: dict[str, Any], url: str, spool: str, stop: Any, results: Any) -> None:
    from collectors.mqtt import SparkplugHost

    the_plant = Plant.model_validate(config)
    store = SampleStore.for_plant(the_plant, url, spool_dir=spool, source=f"ingest-{index}")
    host = SparkplugHost(the_plant, store, name=f"bench-ingest-{index}-{time.time_ns()}")
    host.start()
    host.connected.wait(10)
    results.put(("ready", index, None))
    stop.wait()
    store.flush(120)
    host.stop(10)
    results.put(("ingest", host.stats.samples, store.stats.latency.counts))


def quantile(counts: list[int], q: float) -> float:
    total = sum(counts)
    seen = 0
    for bound, count in zip(LATENCY_BOUNDS, counts, strict=True):
        seen += count
        if seen >= q * total:
            return bound
    return LATENCY_BOUNDS[-1]


def stored(url: str) -> int:
    """Good samples stored (an edge node that stops says NDEATH, and ingest then stores a bad sample per tag)."""
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM samples WHERE status = 0").fetchone()[0])


def stored_rate(url: str) -> float:
    """Good samples / (last commit − first sample's source time): the rate the path sustained."""
    with psycopg.connect(url) as conn:
        count, first = conn.execute("SELECT count(*), min(time) FROM samples WHERE status = 0").fetchone()
        (last,) = conn.execute("SELECT max(committed_at) FROM store_batches").fetchone()
    return float(count) / (last - first).total_seconds()


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE samples, store_batches, sample_rollup_pending")


def run(mode: str, args: argparse.Namespace, config: dict[str, Any], url: str, tmp: Path) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    stop = ctx.Event()
    ingests = []
    if mode == "mqtt":
        ingests = [ctx.Process(target=ingest, args=(i, config, url, str(tmp / f"{mode}-ingest-{i}-{time.time_ns()}"),
                                                    stop, results)) for i in range(args.ingest)]  # fmt: skip
        for process in ingests:
            process.start()
        for _ in ingests:
            assert results.get(timeout=60)[0] == "ready"
    collectors = [ctx.Process(target=collector, args=(mode, i, config, url, str(tmp / f"{mode}-c{i}-{time.time_ns()}"),
                                                      args.rate, args.tags, args.seconds, args.tick, results))
                  for i in range(args.collectors)]  # fmt: skip
    for process in collectors:
        process.start()
    offered = 0
    counts = [0] * len(LATENCY_BOUNDS)
    for _ in collectors:
        _, sent, latency = results.get(timeout=args.seconds + 300)
        offered += sent
        if latency:
            counts = [a + b for a, b in zip(counts, latency, strict=True)]
    deadline = time.monotonic() + 120
    while stored(url) < offered and time.monotonic() < deadline:
        time.sleep(0.05)
    total = stored(url)
    stop.set()
    for _ in ingests:
        _, _, latency = results.get(timeout=60)
        counts = [a + b for a, b in zip(counts, latency, strict=True)]
    for process in [*collectors, *ingests]:
        process.join(30)
    return {"offered": offered, "stored": total, "rate": stored_rate(url), "p50": quantile(counts, 0.5),
            "p99": quantile(counts, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collectors", type=int, default=4)
    parser.add_argument("--ingest", type=int, default=2)
    parser.add_argument("--rate", type=int, default=5000, help="samples/s offered by each collector")
    parser.add_argument("--tags", type=int, default=500, help="tags per collector")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tick", type=float, default=0.25, help="s between a collector's batches")
    args = parser.parse_args()

    from tests.collectors.mqtt.broker import Mosquitto

    with tempfile.TemporaryDirectory(prefix="linebrain-bench-mqtt-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # the embedded server may run as its own user (docs/security.md)
        broker = Mosquitto(tmp / "mosquitto")
        broker.start()
        server = EmbeddedPostgres(tmp / "pg", port=free_port())
        url = server.start().url()
        try:
            migrate(url)
            the_plant = plant(args.collectors, args.tags, broker.url)
            SampleStore.for_plant(the_plant, url, spool_dir=tmp / "warm")  # registers the tags
            config = the_plant.model_dump(mode="json")
            figures = {}
            for mode in ("direct", "mqtt"):
                reset(url)
                figures[mode] = run(mode, args, config, url, tmp)
                f = figures[mode]
                print(f"  {mode:7s} offered {f['offered']:>9,.0f}  stored {f['stored']:>9,.0f}  "
                      f"{f['rate']:>9,.0f} samples/s  latency p50 ≤ {f['p50'] * 1000:,.0f} ms  "
                      f"p99 ≤ {f['p99'] * 1000:,.0f} ms", flush=True)
                assert f["stored"] == f["offered"], f"{mode}: stored {f['stored']} of {f['offered']}"
        finally:
            server.stop()
            broker.stop()
    print(f"\nmachine: {describe(f'psycopg {psycopg.__version__}')}")
    print(f"{args.collectors} collector processes x {args.rate:,d} samples/s offered for {args.seconds:g} s "
          f"({args.tags} tags each, a batch every {args.tick:g} s); mqtt: {args.ingest} ingest processes")
    direct, mqtt = figures["direct"], figures["mqtt"]
    print(f"mqtt / direct samples/s = {mqtt['rate'] / direct['rate']:.2f}; "
          f"p99 latency {mqtt['p99'] * 1000:,.0f} ms vs {direct['p99'] * 1000:,.0f} ms")



if __name__ == "__main__":
    main()
