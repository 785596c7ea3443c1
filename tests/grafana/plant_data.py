"""A few hours of plant data written through LineBrain's own store, for panel tests.

Until ``linebrain demo`` fills a database, this is the demo: the example
brewery's tags, 1 s samples with a believable line behind them (runs, short
stops, a fault, counters counting, a few bad readings), committed by the
``SampleStore`` and rolled up by ``refresh_rollups`` exactly as live data is.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.config import load_plant
from collectors.samples import BAD_TIMEOUT, GOOD, UNCERTAIN, Sample
from collectors.store import SampleStore, refresh_rollups
from tests.conftest import REPO

PLANT = REPO / "examples" / "brewery.yaml"
STEP = timedelta(seconds=1)


def state_at(second: int) -> int:
    """The filler's PLC state code: mostly running, a 2 min idle each hour, a 5 min fault every 3 h."""
    minute = (second // 60) % 180
    if 100 <= minute < 105:
        return 3  # fault
    if (minute % 60 == 30 and (second % 60) < 40) or minute % 60 == 31:
        return 2  # idle
    return 1


def samples_between(start: datetime, end: datetime) -> list[Sample]:
    samples: list[Sample] = []
    good = reject = 0
    seconds = int((end - start).total_seconds())
    for second in range(seconds):
        at = start + second * STEP
        state = state_at(second)
        if state == 1:
            good += 10 if second % 50 else 9
            reject += 0 if second % 50 else 1
        speed = 600.0 * (state == 1) - (second % 7)
        temp = 180 + 5 * math.sin(second / 600)
        status = BAD_TIMEOUT if second % 997 == 0 else (UNCERTAIN if second % 1499 == 0 else GOOD)
        samples += [
            Sample("filler_state", at, float(state)),
            Sample("filler_good", at, float(good % 65536)),
            Sample("filler_reject", at, float(reject % 65536)),
            Sample("filler_speed", at, max(speed, 0.0) if status == GOOD else None, status),
            Sample("oven_temp", at, temp),
        ]
    return samples


def fill(url: str, start: datetime, end: datetime, spool_dir: Path) -> None:
    """Store samples from ``start`` to ``end`` and bring the rollups up to date."""
    store = SampleStore.for_plant(load_plant(PLANT), url, spool_dir=spool_dir, source="grafana-test")
    store.start()
    try:
        samples = samples_between(start, end)
        for first in range(0, len(samples), 5000):
            store.write(samples[first : first + 5000])
        assert store.flush(timeout=60), "the store did not commit the test samples"
    finally:
        store.close()
    refresh_rollups(url)


def window(hours: int = 3) -> tuple[datetime, datetime]:
    """A time range of whole minutes ending a little before now."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return end - timedelta(hours=hours), end
