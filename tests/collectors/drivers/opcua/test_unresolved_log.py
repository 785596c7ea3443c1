"""A node that cannot be resolved is logged once per tag with the reason, not per read or reconnect."""

from __future__ import annotations

import asyncio
import logging

import pytest

from collectors.config.models import Tag
from collectors.drivers.opcua import OpcuaDriver
from simulator.options import SimulatorOptions
from simulator.simulator import Simulator
from tests.collectors.drivers.opcua.test_simulator import FILLER, sim_connection


async def test_an_unresolvable_node_is_logged_once_per_tag_with_its_reason(
    pki, collected, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="collectors.drivers.opcua.driver")
    async with Simulator(SimulatorOptions(modbus_port=None)) as sim:
        ns = sim.opcua_namespace
        tags = [Tag(name="good", connection="sim", node_id=f"ns={ns};s={FILLER}.GoodCount"),
                Tag(name="typo", connection="sim", node_id=f"ns={ns};s={FILLER}.Misspelt"),
                Tag(name="sub_typo", connection="sim", node_id=f"ns={ns};s={FILLER}.Misspelt", mode="subscribe")]
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki)
        try:
            for _ in range(2):  # a reconnect resolves again: still one line per tag
                await driver.connect()
                await asyncio.wait_for(driver.subscribed.wait(), 5)
                await driver.read_group("default")
                await driver.read_group("default")
                await driver.close()
        finally:
            await driver.close()
    lines = [r.getMessage() for r in caplog.records if "cannot be resolved" in r.getMessage()]
    assert len(lines) == 2, lines
    assert any("tag typo:" in line and "BadNodeIdUnknown" in line and f"{FILLER}.Misspelt" in line for line in lines)
    assert any("tag sub_typo:" in line for line in lines)
