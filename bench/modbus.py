"""Bench: reading a 10,000-register map from the line simulator over Modbus TCP.

The simulator runs in a child process (scale mode: 10,000 uint16 holding
registers on unit 100), so the client process does only the collector's work.
In one run, one after the other on one connection each:

- ``raw pymodbus``: ``read_holding_registers`` of 125 registers, no decoding, no
  samples: the physical limit of this client on this machine;
- ``linebrain``: :class:`ModbusDriver.read_group` of the planned requests (125
  registers each), decoded into samples with times and quality;
- ``one request per tag``: the same driver with ``one_request_per_field``, what a
  naive collector does.

It prints requests per cycle for the plan and for one-request-per-tag, samples
(registers) per second for each, and the two ratios the collector must meet:
linebrain ≥ 70% of raw, and ≥ 20× one request per tag.

    .venv/bin/python bench/modbus.py --seconds 3 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNIT = 100  # the simulator's first scale unit


def _serve(tags: int, pipe) -> None:
    """Child process: the simulator with ``tags`` scale registers, Modbus only, values frozen."""

    async def main() -> None:
        from collectors.simulator.options import SimulatorOptions
        from collectors.simulator.simulator import Simulator

        options = SimulatorOptions(opcua_port=None, tags=tags, scale_protocols=("modbus",), scale_interval=3600)
        async with Simulator(options) as sim:
            pipe.send(sim.modbus_port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


async def bench_raw(port: int, tags: int, seconds: float) -> tuple[float, int]:
    """Registers per second of bare pymodbus 125-register reads."""
    from pymodbus.client import AsyncModbusTcpClient

    client = AsyncModbusTcpClient("127.0.0.1", port=port, retries=0, reconnect_delay=0)
    await client.connect()
    starts = list(range(0, tags, 125))
    registers = cycles = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        for start in starts:
            count = min(125, tags - start)
            response = await client.read_holding_registers(start, count=count, device_id=UNIT)
            registers += len(response.registers[:count])
        cycles += 1
    elapsed = time.perf_counter() - began
    client.close()
    return registers / elapsed, cycles


async def bench_driver(port: int, tags: int, seconds: float, one_per_tag: bool) -> tuple[float, int, int]:
    """Samples per second of ModbusDriver.read_group; also its requests per cycle and cycles run."""
    from collectors.config.models import ModbusConnection, Tag
    from collectors.drivers.modbus import ModbusDriver

    connection = ModbusConnection.model_validate({
        "id": "bench", "protocol": "modbus", "host": "127.0.0.1", "port": port, "timeout": 2.0,
        "workarounds": {"one_request_per_field": one_per_tag},
    })
    tag_list = [Tag(name=f"scale.{i}", connection="bench", unit_id=UNIT, table="holding_register", address=i)
                for i in range(tags)]
    driver = ModbusDriver(connection, tag_list)
    requests = driver.requests_per_cycle()["default"]
    await driver.connect()
    samples = cycles = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds or cycles == 0:
        result = await driver.read_group("default")
        samples += len(result)
        cycles += 1
    elapsed = time.perf_counter() - began
    bad = sum(1 for s in result if s.status)
    await driver.close()
    if bad:
        raise SystemExit(f"{bad} bad samples in the last cycle: the bench is not measuring good reads")
    return samples / elapsed, requests, cycles


def machine() -> str:
    lines = [f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"]
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line for line in cpuinfo if line.startswith("model name"))
        lines.append(model.split(":", 1)[1].strip())
    except (OSError, StopIteration):
        pass
    return ", ".join(lines)


async def run(port: int, tags: int, seconds: float, rounds: int) -> int:
    # Rounds alternate raw and linebrain so both see the same machine load; the best round of
    # each counts (other work on a shared machine only ever slows a round down).
    raw = ours = naive = 0.0
    raw_cycles = our_cycles = naive_cycles = requests = naive_requests = 0
    for number in range(rounds):
        raw_rate, cycles = await bench_raw(port, tags, seconds)
        raw, raw_cycles = max(raw, raw_rate), raw_cycles + cycles
        our_rate, requests, cycles = await bench_driver(port, tags, seconds, one_per_tag=False)
        ours, our_cycles = max(ours, our_rate), our_cycles + cycles
        print(f"round {number + 1}: raw {raw_rate:,.0f} registers/s, linebrain {our_rate:,.0f} samples/s "
              f"({our_rate / raw_rate:.0%})", flush=True)
    naive, naive_requests, naive_cycles = await bench_driver(port, tags, min(seconds, 1.0), one_per_tag=True)
    print(f"machine: {machine()}")
    print(f"map: {tags} uint16 holding registers on unit {UNIT} of the simulator (child process)")
    print(f"requests per cycle: linebrain {requests}, one request per tag {naive_requests} "
          f"({naive_requests / requests:.0f}x more)")
    print(f"raw pymodbus 125-register reads : {raw:10,.0f} registers/s  (best of {rounds}, {raw_cycles} cycles)")
    print(f"linebrain driver (decoded)      : {ours:10,.0f} samples/s    (best of {rounds}, {our_cycles} cycles)")
    print(f"one request per tag             : {naive:10,.0f} samples/s    ({naive_cycles} cycles)")
    share, speedup = ours / raw, ours / naive
    print(f"linebrain / raw                 : {share:.0%}  (goal >= 70%)")
    print(f"linebrain / one request per tag : {speedup:.1f}x (goal >= 20x)")
    return 0 if share >= 0.70 and speedup >= 20 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/linebrain rounds; the best counts")
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.tags, child), daemon=True)
    server.start()
    try:
        port = parent.recv()
        code = asyncio.run(run(port, args.tags, args.seconds, args.rounds))
    finally:
        parent.send("stop")
        server.join(10)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
