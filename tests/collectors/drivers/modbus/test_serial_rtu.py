"""Modbus RTU on a serial line: a pseudo-terminal pair made by socat, the server on one end.

Several units share the line; a unit that never answers costs its deadline and
no more; the port has one owner.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.config.models import ModbusConnection, Tag
from collectors.drivers.modbus import ModbusDriver, encode_value, modbus_worker
from collectors.errors import ConnectionLost
from collectors.samples import BAD_TIMEOUT, GOOD, Sample
from tests.collectors.drivers.modbus.awkward_server import AwkwardServer, Unit

# No skip: scripts/test installs socat, so a missing one is a broken set-up to see, not a gap to hide.
assert shutil.which("socat"), "socat is missing: run scripts/install-system-deps"


@pytest.fixture
def serial_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    client, server = tmp_path / "client", tmp_path / "server"
    proc = subprocess.Popen(
        ["socat", f"pty,raw,echo=0,link={client}", f"pty,raw,echo=0,link={server}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if client.exists() and server.exists():
                break
            if proc.poll() is not None:
                pytest.fail("socat exited before creating the pseudo-terminals")
            time.sleep(0.01)
        yield str(client), str(server)
    finally:
        proc.terminate()
        proc.wait(5)


def rtu_connection(port: str, conn_id: str = "line1", **extra: Any) -> ModbusConnection:
    return ModbusConnection.model_validate({
        "id": conn_id, "protocol": "modbus", "transport": "rtu", "timeout": 0.1,
        "serial": {"port": port, "baudrate": 115200}, "poll_groups": [{"name": "default", "interval": 0.1}],
        **extra,
    })


def tag(name: str, unit: int, address: int, data_type: str = "uint16", **extra: Any) -> Tag:
    return Tag.model_validate({"name": name, "connection": "line1", "unit_id": unit, "table": "holding_register",
                               "address": address, "data_type": data_type, **extra})


@pytest.fixture
async def bus(serial_pair: tuple[str, str]) -> AsyncIterator[tuple[str, AwkwardServer]]:
    meter, drive = Unit(), Unit()
    meter.holding[0:2] = encode_value(tag("x", 1, 0, "float32", byte_order="CDAB"), 229.5)
    drive.holding[10] = 1450
    drive.coils[0] = True
    server = AwkwardServer({1: meter, 2: drive, 3: Unit(behaviour="silent")})
    server.start_serial(serial_pair[1])
    yield serial_pair[0], server
    await server.close()


TAGS = [
    tag("voltage", 1, 0, "float32", byte_order="CDAB"),
    tag("rpm", 2, 10),
    Tag.model_validate({"name": "run", "connection": "line1", "unit_id": 2, "table": "coil", "address": 0}),
    tag("missing", 3, 0),
]


async def test_rtu_units_on_one_line_with_a_dead_one(bus: tuple[str, AwkwardServer]) -> None:
    port, _server = bus
    received: list[Sample] = []
    worker = modbus_worker(rtu_connection(port), TAGS, received.extend)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(1.5)
    worker.stop()
    await asyncio.wait_for(task, 5)
    last = {s.tag: s for s in received}
    assert (last["voltage"].value, last["voltage"].status) == (229.5, GOOD)
    assert last["rpm"].value == 1450
    assert last["run"].value is True
    assert last["missing"].status == BAD_TIMEOUT
    # 15 deadlines; the dead unit costs two 0.1 s timeouts and one probe after a 1 s pause.
    assert sum(1 for s in received if s.tag == "rpm") >= 10


async def test_a_serial_port_has_one_owner(bus: tuple[str, AwkwardServer]) -> None:
    port, _server = bus
    first = ModbusDriver(rtu_connection(port), TAGS[:1])
    second = ModbusDriver(rtu_connection(port, "line1_again"), TAGS[:1])
    await first.connect()
    try:
        with pytest.raises(ConnectionLost, match="already owned by connection line1"):
            await second.connect()
        values = await first.read_group("default")
        assert values[0].value == 229.5
    finally:
        await first.close()
    await second.connect()  # free again once the owner closed it
    await second.close()
