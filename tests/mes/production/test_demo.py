"""End to end: simulator (OPC UA) → collectors → store → MES derivation → KPIs, as `linebrain demo` runs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from mes.cli.demo import run_demo
from tests.conftest import free_port

# 08:45–09:00 in the brewery's zone (Europe/Berlin): inside the early shift, away from its 10:00 break. The
# window used to end at the wall clock, so between 10:00 and 10:40 (and around the other breaks) the line
# stood still and the test failed by time of day.
DEMO_ENDS_AT = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


@pytest.mark.soak  # a quarter of an hour of the whole demo at 60x: in scripts/test (CI), not in a bare pytest
def test_demo_counts_what_the_simulated_line_made(db_url: str, tmp_path: Path) -> None:
    result = asyncio.run(run_demo(db_url, duration=15, speed=60, seed=3, port=free_port(), data_dir=tmp_path,
                                  ends_at=DEMO_ENDS_AT))
    assert result["end"] >= DEMO_ENDS_AT
    line = result["summary"]["line1"]["total"]
    assert line["pbt"] > 10 * 60, "a quarter of a simulated hour inside shifts"
    assert 0 < line["oee"] <= 1
    assert line["oee"] == pytest.approx(line["availability"] * line["effectiveness"] * line["quality_ratio"])
    with psycopg.connect(db_url) as conn:
        for machine in ("filler", "capper", "labeller"):
            # The simulated line ran while the collectors connected: the first sample is the baseline.
            first = {kind: conn.execute(
                "SELECT s.value FROM samples s JOIN tags t ON t.id = s.tag_id WHERE t.name = %s ORDER BY s.time "
                "LIMIT 1", (f"{machine}_{kind}",)).fetchone()[0] for kind in ("good", "reject")}
            cell = result["summary"][f"line1.{machine}"]["total"]
            truth = result["truth"][machine]
            assert cell["gq_total"] == pytest.approx(truth.good - first["good"], rel=0.03), machine
            assert cell["pq_total"] - cell["gq_total"] == pytest.approx(truth.reject - first["reject"], rel=0.1,
                                                                          abs=20), machine


def test_the_run_hook_derives_until_stopped(db_url: str) -> None:
    """`linebrain run` starts mes.jobs next to the collectors; the job syncs and derives, then stops."""
    from mes.cli.collect import MES_JOB_MODULES
    from mes.jobs import jobs
    from tests.mes.production.scenario import plant

    assert "mes.jobs" in MES_JOB_MODULES
    (job,) = jobs(plant(), db_url)

    def shifts() -> int:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT count(*) FROM shift_instances WHERE line_id = 'line1'").fetchone()[0]

    async def run_until_derived() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(job(stop))
        try:
            async with asyncio.timeout(30):  # until the job has synced and derived, not a fixed second
                while shifts() == 0 and not task.done():
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)  # and it stops when asked

    asyncio.run(run_until_derived())
    assert shifts() > 0
