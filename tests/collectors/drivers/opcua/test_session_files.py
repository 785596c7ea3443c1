"""Session and PKI files live under the data dir, one session file per process (or driver)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from collectors.drivers.opcua import OpcuaDriver
from collectors.drivers.opcua.security import default_pki_dir
from simulator.options import SimulatorOptions
from simulator.simulator import Simulator
from tests.collectors.drivers.opcua.conftest import Collected
from tests.collectors.drivers.opcua.test_plain_server import eventually
from tests.collectors.drivers.opcua.test_simulator import scale_tags, sim_connection


def test_the_pki_folder_follows_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LINEBRAIN_PKI_DIR", raising=False)
    monkeypatch.setenv("LINEBRAIN_DATA_DIR", str(tmp_path / "plant-a"))
    assert default_pki_dir() == tmp_path / "plant-a" / "pki"


async def test_two_collectors_of_one_connection_never_share_a_session_file(pki: Path) -> None:
    options = SimulatorOptions(modbus_port=None, tags=3, scale_protocols=("opcua",), scale_interval=0.2)
    async with Simulator(options) as sim:
        first, second = Collected(), Collected()
        drivers = [OpcuaDriver(sim_connection(sim), scale_tags(sim, 3, mode="subscribe"), sink=sink, pki_dir=pki)
                   for sink in (first, second)]  # fmt: skip
        try:
            await asyncio.gather(*(driver.connect() for driver in drivers))
            files = [driver._session_file for driver in drivers]
            await eventually(lambda: first.of("s0") and second.of("s0"))
            before = len(first.of("s0")), len(second.of("s0"))
            await eventually(lambda: len(first.of("s0")) > before[0] + 2 and len(second.of("s0")) > before[1] + 2)
        finally:
            for driver in drivers:
                await driver.close()
    assert files[0] != files[1]
    assert {file.parent for file in files} == {pki / "sessions"}
    # Released at close: a restarted process takes the first slot again.
    again = OpcuaDriver(sim_connection(sim), [], pki_dir=pki)
    assert again._claim_session_file() == files[0]
