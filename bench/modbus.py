"""Bench: reading a 10,000-register map from the line simulator over Modbus TCP.

The simulator runs in a child process (scale mode: 10,000 uint16 holding
registers on unit 100), so the client process does only the collector's work.
In one run, each on its own connection, raw and linebrain cycles alternating so
both see the same machine load:

- ``raw pymodbus``: ``read_holding_registers`` of 125 registers, no decoding, no
  samples: the physical limit of this client on this machine;
- ``linebrain``: :class:`ModbusDriver.read_group` of the planned requests (125
  registers each), decoded into samples with times and quality;
- ``one request per tag``: the same driver with ``one_request_per_field``, what a
  naive collector does, on the first 2,000 tags (a whole 10,000-request cycle
  would take seconds) — a third client in the same interleaved cycles.

It prints requests per cycle for the plan and for one-request-per-tag, samples
(registers) per second for each, and the two ratios the collector must meet:
linebrain ≥ 70% of raw, and ≥ 20× one request per tag.

    .venv/bin/python bench/modbus.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UNIT = 100  # the simulator's first scale unit
NAIVE_TAGS = 2000  # one request per tag reads only the first 2,000 tags: 10,000 requests a cycle would take seconds


def _serve(tags: int, pipe) -> None:
    """Child process: the simulator with ``tags`` scale registers, Modbus only, values frozen."""

    async def main() -> None:
        from simulator.options import SimulatorOptions
        from simulator.simulator import Simulator

        options = SimulatorOptions(opcua_port=None, tags=tags, scale_protocols=("modbus",), scale_interval=3600)
        async with Simulator(options) as sim:
            pipe.send(sim.modbus_port)
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    asyncio.run(main())


def driver_for(port: int, tags: int, one_per_tag: bool):
    from collectors.config.models import ModbusConnection, Tag
    from collectors.drivers.modbus import ModbusDriver

    connection = ModbusConnection.model_validate({
        "id": "bench", "protocol": "modbus", "host": "127.0.0.1", "port": port, "timeout": 2.0,
        "workarounds": {"one_request_per_field": one_per_tag},
    })
    tag_list = [Tag(name=f"scale.{i}", connection="bench", unit_id=UNIT, table="holding_register", address=i)
                for i in range(tags)]
    return ModbusDriver(connection, tag_list)


async def measure(port: int, tags: int, seconds: float) -> dict[str, float]:
    """Alternate one raw cycle and one linebrain cycle until ``seconds`` pass, so both see the same
    machine load (other work on a shared machine comes and goes within seconds)."""
    from pymodbus.client import AsyncModbusTcpClient

    raw = AsyncModbusTcpClient("127.0.0.1", port=port, retries=0, reconnect_delay=0)
    await raw.connect()
    driver = driver_for(port, tags, one_per_tag=False)
    await driver.connect()
    starts = [(start, min(125, tags - start)) for start in range(0, tags, 125)]
    naive = driver_for(port, min(tags, NAIVE_TAGS), one_per_tag=True)
    await naive.connect()
    raw_time = our_time = naive_time = 0.0
    raw_registers = our_samples = naive_samples = cycles = bad = 0
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        t0 = time.perf_counter()
        for start, count in starts:
            response = await raw.read_holding_registers(start, count=count, device_id=UNIT)
            raw_registers += len(response.registers)
        t1 = time.perf_counter()
        result = await driver.read_group("default")
        t2 = time.perf_counter()
        our_samples += len(result)
        bad += sum(1 for s in result if s.status)
        naive_result = await naive.read_group("default")
        t3 = time.perf_counter()
        naive_samples += len(naive_result)
        bad += sum(1 for s in naive_result if s.status)
        raw_time, our_time, naive_time = raw_time + t1 - t0, our_time + t2 - t1, naive_time + t3 - t2
        cycles += 1
    raw.close()
    await driver.close()
    await naive.close()
    if bad:
        raise SystemExit(f"{bad} bad samples: the bench is not measuring good reads")
    return {
        "raw": raw_registers / raw_time, "ours": our_samples / our_time, "naive": naive_samples / naive_time,
        "cycles": cycles, "requests": driver.requests_per_cycle()["default"], "naive_tags": min(tags, NAIVE_TAGS),
    }


def report(tags: int, figures: dict[str, float]) -> int:
    raw, ours, naive = figures["raw"], figures["ours"], figures["naive"]
    import pymodbus

    from bench.machine import describe

    print(f"machine: {describe(f'pymodbus {pymodbus.__version__}')}")
    print(f"map: {tags} uint16 holding registers on unit {UNIT} of the simulator (child process)")
    print(f"requests per cycle of the map: linebrain {figures['requests']:.0f}, one request per tag {tags} "
          f"({tags / figures['requests']:.0f}x more)")
    cycles = f"{figures['cycles']:.0f} cycles, interleaved"
    print(f"raw pymodbus 125-register reads : {raw:10,.0f} registers/s  ({tags} registers, {cycles})")
    print(f"linebrain driver (decoded)      : {ours:10,.0f} samples/s    ({tags} tags, {cycles})")
    print(f"one request per tag             : {naive:10,.0f} samples/s    ({figures['naive_tags']:.0f} tags, {cycles})")
    share, speedup = ours / raw, ours / naive
    print(f"linebrain / raw                 : {share:.0%}  (goal >= 70%)")
    print(f"linebrain / one request per tag : {speedup:.1f}x (goal >= 20x)")
    return 0 if share >= 0.70 and speedup >= 20 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="of interleaved raw/linebrain cycles")
    args = parser.parse_args()
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.tags, child), daemon=True)
    server.start()
    try:
        port = parent.recv()
        figures = asyncio.run(measure(port, args.tags, args.seconds))
        code = report(args.tags, figures)
    finally:
        parent.send("stop")
        server.join(10)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
