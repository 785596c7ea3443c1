"""``linebrain browse`` against the simulator: the config it writes passes ``check`` and collects."""

from __future__ import annotations

import asyncio
import sys

from collectors.config import load_plant
from collectors.drivers.opcua import OpcuaDriver, browse
from collectors.samples import is_good
from simulator.options import OperationLimits, SimulatorOptions
from simulator.simulator import Simulator


async def linebrain(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mes.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode()


async def test_browse_writes_a_config_that_check_accepts_and_that_collects(tmp_path, pki, monkeypatch):
    monkeypatch.setenv("LINEBRAIN_PKI_DIR", str(pki))
    # Small browse limits: the walk must batch and still find everything.
    options = SimulatorOptions(modbus_port=None, limits=OperationLimits(max_nodes_per_browse=3, max_nodes_per_read=50))
    config = tmp_path / "discovered.yaml"
    async with Simulator(options) as sim:
        code, listing = await linebrain("browse", sim.opcua_endpoint, "--pattern", "*Filler*", "--depth", "6")
        assert code == 0, listing
        assert "SpeedActual" in listing and "Double" in listing
        code, output = await linebrain("browse", sim.opcua_endpoint, "--output", str(config), "--mode", "subscribe")
        assert code == 0, output
        code, checked = await linebrain("check", str(config))
        assert code == 0, checked
        plant = load_plant(config)
        expected = sum(1 for point in sim.points if point.opcua)
        assert len(plant.tags) == expected
        speed = next(tag for tag in plant.tags if tag.name.endswith("Filler.SpeedActual"))
        assert speed.node_id.startswith("nsu=http://linebrain.dev/simulator;") and speed.unit
        polled = [tag.model_copy(update={"mode": "poll"}) for tag in plant.tags]
        driver = OpcuaDriver(plant.connections[0], polled, pki_dir=pki)
        await driver.connect()
        try:
            samples = await driver.read_group("default")
        finally:
            await driver.close()
    assert len(samples) == expected
    assert sum(is_good(s.status) for s in samples) >= expected - 5  # a powered-off machine may be bad, never unknown


async def test_browse_batches_many_nodes_per_call():
    options = SimulatorOptions(modbus_port=None, tags=1200, scale_protocols=("opcua",), scale_interval=3600)
    async with Simulator(options) as sim:
        from asyncua import Client

        client = Client(sim.opcua_endpoint)
        await client.connect()
        calls = 0
        session = client.uaclient
        original = session.browse

        async def counting(params):
            nonlocal calls
            calls += 1
            return await original(params)

        session.browse = counting
        try:
            variables = await browse(session, pattern="Plant/Scale/*")
        finally:
            await client.disconnect()
    assert len(variables) == 1200
    assert calls < 10  # level by level, not node by node


def test_the_documented_example_config_is_valid(repo):
    plant = load_plant(repo / "collectors" / "drivers" / "opcua" / "example.yaml")
    assert {tag.mode for tag in plant.tags} == {"poll", "subscribe"}


def test_browse_help_renders():
    from typer.testing import CliRunner

    from mes.cli import app

    result = CliRunner().invoke(app, ["browse", "--help"])
    assert result.exit_code == 0, result.output
    assert "--pattern" in result.output and "--output" in result.output
