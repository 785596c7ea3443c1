"""Bench: OPC UA subscriptions on many changing tags of the line simulator.

The simulator runs in a child process (scale mode: every tag changes every
``--interval`` s), so only the collector's own work is counted here. Two
clients subscribe to the same tags, one after the other, in the same run:

- ``linebrain``: :class:`OpcuaDriver`, samples built and handed to a counting sink
  (once with its lean Publish decoder, once with asyncua's decoder);
- ``asyncua handler``: a plain asyncua subscription with a handler object whose
  ``datachange_notification`` only counts.

For each: notifications received per second and the client process's CPU time
per notification (``time.process_time``, microseconds), over a steady window
after the initial values. The simulator's asyncua server is the bottleneck for
throughput (about 7k changes/s on two cores); the CPU per sample is the figure
of the collector to improve.

    .venv/bin/python bench/opcua.py --tags 10000 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _serve(tags: int, interval: float, pipe) -> None:
    """Child process: the simulator with ``tags`` scale tags on OPC UA only."""

    async def main() -> None:
        from simulator.options import SimulatorOptions
        from simulator.simulator import Simulator

        options = SimulatorOptions(modbus_port=None, tags=tags, scale_protocols=("opcua",), scale_interval=interval)
        async with Simulator(options) as sim:
            pipe.send((sim.opcua_endpoint, sim.opcua_namespace))
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, samples) -> None:  # the SampleSink of the linebrain driver
        self.count += len(samples)

    def datachange_notification(self, node, val, data) -> None:  # the asyncua handler
        self.count += 1


async def _steady_window(counter: Counter, initial: int, seconds: float) -> tuple[float, float, int]:
    """Wait for the initial values, then measure rate and CPU per notification over ``seconds``."""
    deadline = time.monotonic() + 120
    while counter.count < initial and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    count0, wall0, cpu0 = counter.count, time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    count1, wall1, cpu1 = counter.count, time.perf_counter(), time.process_time()
    received = count1 - count0
    rate = received / (wall1 - wall0)
    cpu_us = (cpu1 - cpu0) / received * 1e6 if received else float("nan")
    return rate, cpu_us, received


async def bench_linebrain(endpoint: str, namespace: int, tags: int, seconds: float, publishing: float,
                          fast_publish: bool = True) -> tuple:
    from collectors.config.models import OpcuaConnection, SubscriptionGroup, Tag
    from collectors.drivers.opcua import OpcuaDriver
    from simulator.scale import opcua_name

    group = SubscriptionGroup(name="default", publishing_interval=publishing, sampling_interval=publishing / 2,
                              queue_size=1)
    connection = OpcuaConnection(id="bench", protocol="opcua", endpoint=endpoint, timeout=30, subscriptions=[group])
    tag_list = [Tag(name=f"t{i}", connection="bench", node_id=f"ns={namespace};s={opcua_name(i)}", mode="subscribe")
                for i in range(tags)]
    counter = Counter()
    with tempfile.TemporaryDirectory() as pki:
        driver = OpcuaDriver(connection, tag_list, sink=counter, pki_dir=Path(pki), fast_publish=fast_publish)
        started = time.perf_counter()
        await driver.connect()
        await asyncio.wait_for(driver.subscribed.wait(), 300)
        created = time.perf_counter() - started
        try:
            rate, cpu_us, received = await _steady_window(counter, tags, seconds)
            health = driver.health()
        finally:
            await driver.close()
    assert health["failed_items"] == 0 and health["reconnects"] == 0, health
    return rate, cpu_us, received, created


async def bench_asyncua(endpoint: str, namespace: int, tags: int, seconds: float, publishing: float) -> tuple:
    from asyncua import Client, ua

    from simulator.scale import opcua_name

    counter = Counter()
    client = Client(endpoint, timeout=30, watchdog_intervall=30)
    started = time.perf_counter()
    await client.connect()
    try:
        subscription = await client.create_subscription(publishing * 1000, counter)
        nodes = [client.get_node(ua.NodeId(opcua_name(i), namespace)) for i in range(tags)]
        for start in range(0, tags, 1000):
            await subscription.subscribe_data_change(nodes[start:start + 1000], queuesize=1,
                                                     sampling_interval=publishing * 500)
        created = time.perf_counter() - started
        rate, cpu_us, received = await _steady_window(counter, tags, seconds)
        await subscription.delete()
    finally:
        await client.disconnect()
    return rate, cpu_us, received, created


def machine() -> str:
    import asyncua

    from bench.machine import describe

    return describe(f"asyncua {asyncua.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per client")
    parser.add_argument("--interval", type=float, default=1.0, help="s between changes of every tag")
    parser.add_argument("--publishing", type=float, default=0.5, help="publishing interval, s")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(args.tags, args.interval, child), daemon=True)
    server.start()
    endpoint, namespace = parent.recv()
    print(f"machine: {machine()}")
    print(f"simulator: {args.tags} tags changing every {args.interval} s at {endpoint} (separate process)")
    try:
        results = {}
        runs = (("linebrain driver", bench_linebrain, {}),
                ("linebrain, asyncua decoder", bench_linebrain, {"fast_publish": False}),
                ("asyncua handler", bench_asyncua, {}))
        for name, run, extra in runs:
            results[name] = asyncio.run(run(endpoint, namespace, args.tags, args.seconds, args.publishing, **extra))
    finally:
        parent.send("stop")
        server.join(30)
    print(f"{'client':<28} {'notifications/s':>16} {'CPU µs/sample':>14} {'samples':>9} {'subscribe s':>12}")
    for name, (rate, cpu_us, received, created) in results.items():
        print(f"{name:<28} {rate:>16,.0f} {cpu_us:>14.1f} {received:>9,} {created:>12.1f}")
    ours, theirs = results["linebrain driver"][1], results["asyncua handler"][1]
    print(f"CPU per sample, linebrain / plain asyncua handler: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
