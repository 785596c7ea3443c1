"""``linebrain import`` and ``linebrain status`` from the command line."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner, Result

from collectors.database.flavour import Flavour
from collectors.service import CollectorService, ServiceOptions
from mes.cli import app
from simulator import Simulator, SimulatorOptions
from tests.collectors.store.helpers import counts_per_tag, plant, scale_plant


def service_options(tmp_path: Path) -> ServiceOptions:
    return ServiceOptions(spool_dir=tmp_path / "spool", metrics_port=0, announce=False)


async def status_while_collecting(
    service: CollectorService, ready: Callable[[Any], bool], *status_args: list[str]
) -> list[Result]:
    """Run ``service`` until ``ready(store stats)`` (20 s at most), then ``linebrain status --url``
    once per argument list, then stop it."""
    running = asyncio.create_task(service.run())
    await asyncio.wait_for(service.started.wait(), 30)
    deadline = time.monotonic() + 20
    while not ready(service.pipeline.store.stats) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    results = [await asyncio.to_thread(CliRunner().invoke, app, ["status", "--url", url, *args])
               for args in status_args]
    service.stop()
    await asyncio.wait_for(running, 30)
    return results


def test_import_command_loads_a_csv_and_reports_rejected_lines(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "plant.yaml"
    config.write_text(yaml.safe_dump(plant(2).model_dump(mode="json", exclude_defaults=True)))
    start = datetime.now(UTC) - timedelta(hours=1)
    rows = [f"{(start + timedelta(seconds=i)).isoformat()},t{i % 2},{i}" for i in range(100)]
    rows += ["not-a-time,t0,1", f"{start.isoformat()},ghost,1"]
    (tmp_path / "old.csv").write_text("time,tag,value\n" + "\n".join(rows) + "\n")
    result = CliRunner().invoke(app, ["import", str(tmp_path / "old.csv"), "--config", str(config),
                                      "--database-url", db_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "102 rows read, 100 stored in 1 batches, 0 already stored, 2 rejected" in result.output
    assert "unknown tag" in result.output and "unreadable line" in result.output
    assert counts_per_tag(db_url) == {"t0": 50, "t1": 50}


async def test_status_command_shows_connections_rates_queue_and_spool(
    db_url: str, tmp_path: Path, flavour: Flavour
) -> None:
    options = SimulatorOptions(scenario="brewery", tags=20, scale_protocols=("modbus",), opcua_port=None,
                               scale_interval=0.2)  # fmt: skip
    async with Simulator(options) as sim:
        result, text = await status_while_collecting(
            CollectorService(scale_plant(sim.modbus_port, 20, 0.05), db_url, service_options(tmp_path)),
            lambda stats: stats.batches_committed >= 3, ["--json"], [],
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)[0]
    assert report["connections"]["sim"]["up"] is True and report["connections"]["sim"]["samples"] > 0
    assert report["database_up"] is True and report["samples_stored"] > 0 and report["samples_per_second"] > 0
    assert report["queue_capacity"] == 500_000 and report["spool_limit_bytes"] == 1024 * 1024 * 1024
    assert report["latency_p99_seconds"] is not None
    assert "sim" in text.output and "samples/s" in text.output and "spool" in text.output
    # Which flavour the collector writes to: "TimescaleDB 2.x" or "plain PostgreSQL (why not)".
    assert report["database_flavour"] == flavour.label
    assert flavour.label.split(" (")[0] in text.output


async def test_status_counts_samples_pushed_by_opcua_subscriptions(db_url: str, tmp_path: Path) -> None:
    from collectors.config import parse_plant

    options = SimulatorOptions(scenario="brewery", speed=60, modbus_port=None)
    async with Simulator(options) as sim:
        config = {
            "site": {"name": "sub"},
            "connections": [{"id": "scada", "protocol": "opcua", "endpoint": sim.opcua_endpoint,
                             "subscriptions": [{"name": "default", "publishing_interval": 0.1}]}],
            "tags": [{"name": "filler_good", "connection": "scada", "mode": "subscribe",
                      "node_id": "ns=2;s=Packaging.Line1.Filler.GoodCount"}],
        }  # fmt: skip
        (result,) = await status_while_collecting(
            CollectorService(parse_plant(yaml.safe_dump(config)), db_url, service_options(tmp_path)),
            lambda stats: stats.rows_committed >= 5, ["--json"],
        )
    assert result.exit_code == 0, result.output
    connection = json.loads(result.output)[0]["connections"]["scada"]
    # Subscribed samples bypass the poll groups: they must still show as this connection's samples.
    assert connection["samples"] >= 5
