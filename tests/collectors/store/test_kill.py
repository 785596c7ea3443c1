"""SIGKILL of the collector in the middle of a write: after a restart nothing is lost and nothing doubled.

The collector runs as a subprocess (``linebrain collect``) against the simulator.
We kill it while a COPY of its is active in PostgreSQL, look at what its spool
held at that moment (what it had taken responsibility for: spooled = fsync'd),
restart it and check that every spooled batch is in the ledger once, that the
rows equal the ledger's row counts (no half batch, no second copy) and that
each tag's values are the simulator's changes in order, without duplicates,
with at most the one gap of the time the collector was dead.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from collectors.store.spool import Spool
from simulator import Simulator, SimulatorOptions
from tests.collectors.store.helpers import scale_plant, stored_cycles

pytestmark = pytest.mark.faults
TAGS = 1000
SEED = 5
REPO = Path(__file__).resolve().parents[3]


def _start(config: Path, spool: Path, url: str, data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "LINEBRAIN_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "mes.cli", "collect", str(config), "--metrics-port", "0", "--spool-dir", str(spool),
         "--database-url", url],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(data_dir / f"collect-{time.time()}.log", "w"),
    )  # fmt: skip


def _kill_during_copy(process: subprocess.Popen, url: str, timeout: float = 20.0) -> bool:
    """SIGKILL the collector while one of its COPYs is running (or at the timeout). True if caught mid-COPY."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            active = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE 'COPY samples%%'"
            ).fetchone()[0]
            if active:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                return True
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    return False


def _ledger(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM store_batches), (SELECT coalesce(sum(rows), 0) FROM store_batches), "
            "(SELECT count(*) FROM samples)"
        ).fetchone()


def _recorded(url: str) -> set:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT batch_id FROM store_batches")}


async def _until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


async def test_sigkill_mid_write_then_restart_loses_and_doubles_nothing(db_url: str, tmp_path: Path) -> None:
    options = SimulatorOptions(scenario="brewery", seed=SEED, tags=TAGS, scale_protocols=("modbus",),
                               opcua_port=None, scale_interval=0.5)  # fmt: skip
    spool = tmp_path / "spool"
    started: list[subprocess.Popen] = []
    try:
        async with Simulator(options) as sim:
            plant = scale_plant(sim.modbus_port, TAGS, poll_interval=0.1)
            config = tmp_path / "plant.yaml"
            config.write_text(yaml.safe_dump(plant.model_dump(mode="json", exclude_defaults=True)))
            first = _start(config, spool, db_url, tmp_path)
            started.append(first)
            await _until(lambda: _ledger(db_url)[0] >= 3, 60)
            caught = await asyncio.to_thread(_kill_during_copy, first, db_url)
            killed_at = sim.scale_cycle

            held = Spool(spool, 1 << 30)  # what the dead process had spooled: its promise
            promised = {record.batch_id: record.rows for record in held.open()}
            held.close()

            committed_at_kill = _ledger(db_url)[0]
            second = _start(config, spool, db_url, tmp_path)
            started.append(second)
            await _until(lambda: _recorded(db_url) >= set(promised) and _ledger(db_url)[0] >= committed_at_kill + 3,
                         60)  # fmt: skip
            restarted_at = sim.scale_cycle
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 60) == 0
    finally:
        for process in started:  # a failing test must not leave a collector behind
            if process.poll() is None:
                process.kill()
                process.wait(10)

    assert caught, "the kill did not land during a COPY"
    batches, ledger_rows, rows = _ledger(db_url)
    assert rows == ledger_rows  # every committed batch whole, none twice
    assert set(promised) <= _recorded(db_url)
    assert list(spool.glob("*.spool")) == []  # the clean stop sent everything

    gaps = 0
    for index, seen in stored_cycles(db_url, SEED).items():
        assert len(seen) == len(set(seen)), f"tag s{index}: a value stored twice"
        assert seen == sorted(seen), f"tag s{index}: out of order"
        holes = [(a, b) for a, b in itertools.pairwise(seen) if b != a + 1]
        assert len(holes) <= 1, f"tag s{index}: more than the one gap of the kill: {holes}"
        for a, b in holes:
            assert a < killed_at + 1 and b <= restarted_at, f"tag s{index}: gap {a}..{b} outside the dead time"
        gaps += len(holes)
    print(f"\nkill mid-COPY: {caught}, spooled at kill: {len(promised)} batches, tags with a gap: {gaps}")
    assert batches > len(promised)
