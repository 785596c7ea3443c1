"""The driver against a small asyncua server: addressing, reads, writes, subscriptions, retries."""

from __future__ import annotations

import asyncio
import time

from collectors.config.models import OpcuaConnection, SubscriptionGroup, Tag
from collectors.drivers.base import Driver
from collectors.drivers.opcua import OpcuaDriver
from collectors.samples import BAD_NODE_ID_UNKNOWN, is_good
from tests.collectors.drivers.opcua.servers import NAMESPACE


def connection(endpoint: str, **extra) -> OpcuaConnection:
    fast = SubscriptionGroup(name="default", publishing_interval=0.1, sampling_interval=0.05)
    return OpcuaConnection(id="plc", protocol="opcua", endpoint=endpoint, subscriptions=[fast], **extra)


async def eventually(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_a_poll_group_reads_datavalues_and_unknown_nodes_come_back_bad(plain_server, pki):
    ns = plain_server.index
    tags = [
        Tag(name="by_index", connection="plc", node_id=f"ns={ns};s=Line1.V1"),
        Tag(name="by_uri", connection="plc", node_id=f"nsu={NAMESPACE};s=Line1.V2", scale=10, offset=1),
        Tag(name="by_path", connection="plc", browse_path=f"Objects/{ns}:Line1/{ns}:V3"),
        Tag(name="unknown", connection="plc", node_id=f"ns={ns};s=Line1.Nope"),
        Tag(name="unknown_uri", connection="plc", node_id="nsu=urn:nobody;s=X"),
        Tag(name="unknown_path", connection="plc", browse_path=f"Objects/{ns}:Line1/{ns}:Nope"),
    ]
    driver = OpcuaDriver(connection(plain_server.endpoint), tags, pki_dir=pki)
    await driver.connect()
    try:
        samples = {sample.tag: sample for sample in await driver.read_group("default")}
    finally:
        await driver.close()
    assert samples["by_index"].value == 1.0 and is_good(samples["by_index"].status)
    assert samples["by_uri"].value == 21.0
    assert samples["by_path"].value == 3.0
    good = samples["by_index"]
    assert good.time is not None and good.server_time is not None and good.received >= good.server_time
    assert samples["unknown"].status == BAD_NODE_ID_UNKNOWN
    assert samples["unknown_uri"].status == BAD_NODE_ID_UNKNOWN
    assert not is_good(samples["unknown_path"].status)


async def test_write_goes_through_as_the_nodes_type_with_inverse_scaling(plain_server, pki):
    tags = [Tag(name="setpoint", connection="plc", node_id=f"ns={plain_server.index};s=Line1.V4", scale=2.0,
                writable=True)]
    driver = OpcuaDriver(connection(plain_server.endpoint), tags, pki_dir=pki)
    await driver.connect()
    try:
        await driver.write("setpoint", 85.0)
    finally:
        await driver.close()
    assert await plain_server.variables[4].read_value() == 42.5


async def test_subscriptions_deliver_changes_past_the_deadband_and_keep_timestamps(plain_server, pki, collected):
    ns = plain_server.index
    tags = [Tag(name="temp", connection="plc", node_id=f"ns={ns};s=Line1.V5", mode="subscribe", deadband=1.0)]
    driver = OpcuaDriver(connection(plain_server.endpoint), tags, sink=collected, pki_dir=pki)
    await driver.connect()
    try:
        await asyncio.wait_for(driver.subscribed.wait(), 5)
        await eventually(lambda: collected.of("temp"))
        for value in (5.2, 5.4, 10.0, 10.3, 20.0):
            await plain_server.variables[5].write_value(value)
            await asyncio.sleep(0.15)
        await eventually(lambda: collected.of("temp")[-1].value == 20.0)
    finally:
        await driver.close()
    values = [s.value for s in collected.of("temp")]
    assert values == [5.0, 10.0, 20.0]
    last = collected.of("temp")[-1]
    assert last.server_time is not None and last.received is not None and last.time <= last.received


async def test_unknown_subscribed_node_is_reported_bad_and_retried_while_the_rest_flows(plain_server, pki, collected):
    from asyncua import ua

    ns = plain_server.index
    tags = [Tag(name="good", connection="plc", node_id=f"ns={ns};s=Line1.V6", mode="subscribe"),
            Tag(name="late", connection="plc", node_id=f"ns={ns};s=Line1.Late", mode="subscribe")]
    driver = OpcuaDriver(connection(plain_server.endpoint), tags, sink=collected, pki_dir=pki, retry_interval=0.5)
    await driver.connect()
    try:
        await asyncio.wait_for(driver.subscribed.wait(), 5)
        await eventually(lambda: collected.of("good") and collected.of("late"))
        assert collected.of("late")[0].status == BAD_NODE_ID_UNKNOWN
        assert driver.health()["failed_items"] == 1
        folder = plain_server.server.get_node(ua.NodeId("Line1", ns))
        await folder.add_variable(ua.NodeId("Line1.Late", ns), f"{ns}:Late", 7.0)
        await eventually(lambda: any(s.value == 7.0 for s in collected.of("late")))
        assert driver.health()["failed_items"] == 0
    finally:
        await driver.close()
    assert collected.of("good")[0].value == 6.0


async def test_connect_twice_keeps_one_session_and_close_ends_it(plain_server, pki):
    tags = [Tag(name="v1", connection="plc", node_id=f"ns={plain_server.index};s=Line1.V1")]
    driver = OpcuaDriver(connection(plain_server.endpoint), tags, pki_dir=pki)
    assert isinstance(driver, Driver)
    await driver.connect()
    await driver.connect()
    assert plain_server.session_count() == 1
    await driver.close()
    assert plain_server.session_count() == 0
    await driver.close()
