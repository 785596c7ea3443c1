"""Alarm evaluation at plant scale: 20,000 tags read at 1 Hz, five rules on each (100,000 alarm points).

The readings are made first (a slow random walk per tag, so a few tags cross their limits and the alarms
really change state); then the timed part hands them to :class:`mes.alarms.engine.AlarmEngine` in lists of
1,000 readings, as a connection worker's poll groups deliver them, and runs the clock's delay check once
a simulated second. The figure is CPU seconds per simulated second = the share of one core the evaluation
needs at 1 Hz (goal: under 25%). The baseline in the same run is the pipeline's report-by-exception
filter (:class:`collectors.deadband.ReportByException`) over the same readings: the one per-reading step
every sample already pays.

Usage: .venv/bin/python bench/alarms.py [--tags 20000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from collectors.config.models import Plant
from collectors.deadband import ReportByException
from collectors.samples import Sample
from mes.alarms.engine import AlarmEngine

CHUNK = 1000


def plant(tags: int) -> Plant:
    """``tags`` float tags, five pattern rules covering all of them: high, high-high (with deadband and
    on-delay), low, low-low (off-delay) and rate of change."""
    return Plant.model_validate({
        "site": {"name": "Bench"},
        "connections": [{"id": f"plc{i}", "protocol": "modbus", "host": "127.0.0.1", "port": 5020}
                        for i in range(tags // 1000 + 1)],
        "tags": [{"name": f"t{i:05d}", "connection": f"plc{i // 1000}", "table": "holding_register",
                  "address": (i % 1000) * 2, "data_type": "float32", "deadband": 0.01} for i in range(tags)],
        "alarms": {"rules": [
            {"name": "hi", "tags": "t*", "kind": "high", "limit": 80, "deadband": 2},
            {"name": "hihi", "tags": "t*", "kind": "high_high", "limit": 90, "deadband": 2, "on_delay": 5},
            {"name": "lo", "tags": "t*", "kind": "low", "limit": 20, "deadband": 2, "off_delay": 5},
            {"name": "lolo", "tags": "t*", "kind": "low_low", "limit": 10, "deadband": 2},
            {"name": "roc", "tags": "t*", "kind": "rate_of_change", "limit": 60, "deadband": 10},
        ]},
    })  # fmt: skip


def readings(tags: int, seconds: int, seed: int = 7) -> list[list[Sample]]:
    """Per simulated second, the lists of readings a collector would hand over."""
    rng = random.Random(seed)
    values = [rng.uniform(15, 85) for _ in range(tags)]  # some start near a limit
    names = [f"t{i:05d}" for i in range(tags)]
    start = datetime(2026, 12, 1, tzinfo=UTC)
    out = []
    for second in range(seconds):
        now = start + timedelta(seconds=second)
        samples = []
        for i in range(tags):
            values[i] = min(max(values[i] + rng.gauss(0, 0.3), 0.0), 100.0)
            samples.append(Sample(names[i], now, values[i]))
        out.extend(samples[j:j + CHUNK] for j in range(0, tags, CHUNK))
    return out


def evaluate(engine: AlarmEngine, chunks: list[list[Sample]], per_second: int) -> tuple[float, int]:
    changes = 0
    gc.disable()
    started = time.process_time()
    for index, chunk in enumerate(chunks):
        changes += len(engine.evaluate(chunk))
        if index % per_second == per_second - 1:
            changes += len(engine.due(chunk[-1].time.timestamp()))
    spent = time.process_time() - started
    gc.enable()
    return spent, changes


def filter_baseline(config: Plant, chunks: list[list[Sample]]) -> float:
    rbe = ReportByException(config.tags)
    gc.disable()
    started = time.process_time()
    for chunk in chunks:
        rbe.filter(chunk)
    spent = time.process_time() - started
    gc.enable()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    config = plant(args.tags)
    engine = AlarmEngine(config)
    chunks = readings(args.tags, args.seconds)
    per_second = len(chunks) // args.seconds
    spent, changes = evaluate(engine, chunks, per_second)
    baseline = filter_baseline(config, chunks)
    core = spent / args.seconds
    print(describe())
    print(f"{args.tags:,} tags × 5 rules = {len(engine.conditions):,} alarm points, {args.seconds} s at 1 Hz "
          f"({args.tags * args.seconds:,} readings), {changes:,} alarm changes")
    print(f"alarm evaluation: {spent:.2f} CPU s = {core:.1%} of one core at 1 Hz (goal < 25%), "
          f"{spent / (args.tags * args.seconds) * 1e6:.2f} µs per reading")
    print(f"baseline, report-by-exception filter: {baseline:.2f} CPU s = {baseline / args.seconds:.1%} of one core; "
          f"evaluation / filter = {spent / baseline:.2f}")


if __name__ == "__main__":
    main()
