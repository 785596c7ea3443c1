"""Changeover time of the simulated brewery line, typed by hand vs. downloaded by LineBrain.

Changeover = the last good unit of one order → the first good unit of the next, at
the filler (the line's constraint), from the simulator's ground truth, sampled every
``--step`` simulated seconds. Both runs use the same seed and start, so the seeded
mechanical changeovers, machine stops and breaks are the same: a paired comparison.

- ``manual``: after the mechanical work the simulated operator types each of the
  four machines' speed setpoints (``simulator/changeover.py``,
  MANUAL_SECONDS_PER_MACHINE each — an assumption, not a measurement).
- ``download``: the line of ``tests/mes/recipes/line.py`` (the example config on the
  simulator, the collector's drivers and write queue). At each order start the order is created and started in the MES
  and ``mes.recipes.download.download`` (what the order-start job runs) writes the
  product's approved recipe through the whole audited path: ``setpoint_requests``
  in a real PostgreSQL, the collector's ``SetpointQueue``, Modbus (filler, capper,
  packer) and OPC UA (labeller) to the simulator, each value read back. The
  simulated clock is frozen meanwhile and then advanced by the download's wall
  time plus the job's 2 s poll interval, so LineBrain's own latency counts.

Run: ``.venv/bin/python bench/changeover.py [--orders 6] [--order-minutes 45] [--step 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import Simulator, SimulatorOptions

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 5, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
JOB_POLL_S = 2.0
OrderStart = Callable[[Any], Awaitable[float]]


async def changeovers(sim: Simulator, orders: int, step: float, on_order_start: OrderStart | None) -> list[float]:
    """Seconds from the last good unit before each order change to the first good unit after it."""
    model: Any = sim.models["brewery"]
    truth = sim.counters("filler")
    index, counted, last_good_at = model.order_index, truth.good, 0.0
    since: float | None = None
    found: list[float] = []
    while len(found) < orders:
        await sim.advance(step)
        changed = model.order_index != index
        if truth.good > counted:  # in the step that crosses an order change: the old order's last units
            counted, last_good_at = truth.good, sim.elapsed
            if since is not None and not changed:
                found.append(last_good_at - since)
                since = None
        if changed:
            index, since = model.order_index, last_good_at
            if on_order_start is not None:
                await sim.advance(await on_order_start(model))
    return found


async def manual_run(args: argparse.Namespace) -> list[float]:
    options = SimulatorOptions(scenario="brewery", speed=0, seed=args.seed, start=START,
                               order_minutes=args.order_minutes, setpoint_entry="manual", opcua_port=None)
    async with Simulator(options) as sim:
        return await changeovers(sim, args.orders, args.step, None)


async def download_run(args: argparse.Namespace, url: str, pki: Path) -> tuple[list[float], list[float]]:
    import psycopg

    from mes.production.orders import create_order, list_orders, transition
    from mes.recipes.download import download
    from mes.recipes.jobs import ORIGIN, SYSTEM
    from tests.mes.recipes.line import writing_line

    download_seconds: list[float] = []
    async with writing_line(url, pki, seed=args.seed, start=START, order_minutes=args.order_minutes,
                            setpoint_entry="download") as line:  # fmt: skip
        sim = line.sim
        with psycopg.connect(url, autocommit=True) as conn:
            approve_recipes(conn)

        async def on_order_start(model: Any) -> float:
            started = time.perf_counter()
            number, product = model.order_number, model.product.id

            def start_and_download() -> str:
                with psycopg.connect(url, autocommit=True) as conn:
                    for running in list_orders(conn, "line1", "running"):
                        transition(conn, running["id"], "completed", "bench")
                    order = create_order(conn, number, "line1", product, 10_000, "bench")
                    transition(conn, order["id"], "running", "bench")
                return download(url, SYSTEM, number, trigger="order_start", origin=ORIGIN).result

            result = await asyncio.to_thread(start_and_download)
            if result != "complete":
                raise SystemExit(f"download for {number} ended {result}")
            elapsed = time.perf_counter() - started
            download_seconds.append(elapsed)
            return elapsed + JOB_POLL_S

        found = await changeovers(sim, args.orders, args.step, on_order_start)
    return found, download_seconds


def approve_recipes(conn: Any) -> None:
    """One approved recipe per product: each machine at 95 % of its ideal rate (as the model presets it)."""
    from mes.auth.users import add_user
    from mes.recipes.recipes import Parameter, approve_recipe, create_recipe
    from simulator.brewery import MACHINES, PRODUCTS, SETPOINT_SHARE

    password = "bench approver password 1"
    add_user(conn, "bench", "manager", password, actor="bench")
    from mes.auth.users import authenticate

    approver = authenticate(conn, "bench", password)
    for product in PRODUCTS:
        parameters = [Parameter(f"{spec.id.lower()}_speed_setpoint", round(spec.base_rate * product.rate_factor *
                                                                            SETPOINT_SHARE, 1))
                      for spec in MACHINES]  # fmt: skip
        recipe = create_recipe(conn, f"{product.id} line 1", product.id, "line1", parameters, "bench")
        approve_recipe(conn, recipe["id"], approver, password)


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<9} n={len(values)}  mean {statistics.fmean(values):7.1f} s  median "
            f"{statistics.median(values):7.1f} s  min {min(values):7.1f} s  max {max(values):7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=6, help="changeovers to measure per mode")
    parser.add_argument("--order-minutes", type=float, default=45.0)
    parser.add_argument("--step", type=float, default=2.0, help="simulated seconds per sample of the counters")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import psycopg

    from collectors.database.embedded import EmbeddedPostgres
    from collectors.database.migrations import migrate
    from mes import ALL_MIGRATIONS
    from simulator.brewery import MACHINES
    from tests.conftest import free_port

    manual = asyncio.run(manual_run(args))
    with tempfile.TemporaryDirectory(prefix="linebrain-bench-changeover-") as tmp:
        os.chmod(tmp, 0o755)
        server = EmbeddedPostgres(Path(tmp) / "db", port=free_port())
        server.start()
        try:
            url = server.create_database("bench")
            migrate(url, ALL_MIGRATIONS)
            downloaded, download_seconds = asyncio.run(download_run(args, url, Path(tmp) / "pki"))
            with psycopg.connect(url) as conn:
                writes = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'setpoints.write' "
                                      "AND after->>'result' = 'written'").fetchone()[0]  # type: ignore[index]
        finally:
            server.stop()
    from bench.machine import describe

    print(f"machine: {describe()}")
    print(f"brewery line, seed {args.seed}, orders of {args.order_minutes:g} min, counters sampled every "
          f"{args.step:g} s (± {args.step:g} s)")
    print(summary("manual", manual))
    print(summary("download", downloaded))
    print(f"download wall time per order: mean {statistics.fmean(download_seconds):.2f} s "
          f"({len(MACHINES)} parameters, {writes} audited writes read back equal)")
    pairs = [d / m for m, d in zip(manual, downloaded, strict=True)]
    print(f"ratio download/manual: per changeover mean {statistics.fmean(pairs):.2f}, median "
          f"{statistics.median(pairs):.2f}; means {statistics.fmean(downloaded) / statistics.fmean(manual):.2f}")
    print("per changeover (manual, download) s:", [(round(m), round(d)) for m, d in zip(manual, downloaded,
                                                                                        strict=True)])  # fmt: skip


if __name__ == "__main__":
    main()
