"""The driver against the line simulator's OPC UA server, which enforces its operation limits."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from collectors.config.models import OpcuaConnection, OpcuaSecurity, SubscriptionGroup, Tag
from collectors.drivers.opcua import OpcuaDriver, UntrustedServerCertificate, fetch_server_certificate
from collectors.drivers.opcua.reading import ChunkedReader
from collectors.samples import BAD_NO_COMMUNICATION, BAD_NODE_ID_UNKNOWN, is_bad, is_good
from simulator.options import OperationLimits, SimulatorOptions
from simulator.scale import opcua_name
from simulator.simulator import Simulator
from tests.collectors.drivers.opcua.test_plain_server import eventually

FILLER = "Packaging.Line1.Filler"


def sim_connection(sim: Simulator, **extra) -> OpcuaConnection:
    groups = [SubscriptionGroup(name="default", publishing_interval=0.1, sampling_interval=0.05)]
    return OpcuaConnection(id="sim", protocol="opcua", endpoint=sim.opcua_endpoint, subscriptions=groups, **extra)


def scale_tags(sim: Simulator, count: int, mode: str = "poll") -> list[Tag]:
    ns = sim.opcua_namespace
    return [Tag(name=f"s{i}", connection="sim", node_id=f"ns={ns};s={opcua_name(i)}", mode=mode) for i in range(count)]


def sessions(sim: Simulator) -> int:
    return len(sim.opcua.server.iserver._external_sessions)


async def test_reads_and_subscriptions_respect_enforced_limits(pki, collected):
    limits = OperationLimits(max_nodes_per_read=100, max_monitored_items_per_call=100)
    options = SimulatorOptions(modbus_port=None, tags=1000, scale_protocols=("opcua",), scale_interval=3600,
                               limits=limits)
    async with Simulator(options) as sim:
        tags = scale_tags(sim, 1000) + [
            Tag(name=f"m{i}", connection="sim", node_id=f"ns={sim.opcua_namespace};s={opcua_name(i)}",
                mode="subscribe")
            for i in range(1000)
        ]
        driver = OpcuaDriver(sim_connection(sim, max_items_per_subscription=300), tags, sink=collected, pki_dir=pki)
        await driver.connect()
        try:
            samples = await driver.read_group("default")
            await asyncio.wait_for(driver.subscribed.wait(), 30)
            await eventually(lambda: len(collected) >= 1000, timeout=15)
            health = driver.health()
        finally:
            await driver.close()
        assert sim.opcua.rejected_calls == 0
    assert [s.value for s in samples] == [float(sim.scale_value(i)) for i in range(1000)]
    assert health["nodes_per_read"] == 100 and health["read_requests"] == 10
    assert health["monitored_items"] == 1000 and health["subscriptions"] == 4 and health["failed_items"] == 0
    assert {s.tag for s in collected} == {f"m{i}" for i in range(1000)}


async def test_a_request_over_the_enforced_limit_is_halved_until_it_passes():
    limits = OperationLimits(max_nodes_per_read=100)
    options = SimulatorOptions(modbus_port=None, tags=1000, scale_protocols=("opcua",), scale_interval=3600,
                               limits=limits)
    async with Simulator(options) as sim:
        from asyncua import Client, ua

        client = Client(sim.opcua_endpoint)
        await client.connect()
        try:
            # A reader that believes the server takes 1000 nodes per call (as a server advertising 0 would).
            reader = ChunkedReader(client.uaclient, 1000, 4)
            node_ids = [ua.NodeId(opcua_name(i), sim.opcua_namespace) for i in range(1000)]
            values = await reader.read(node_ids)
        finally:
            await client.disconnect()
        assert sim.opcua.rejected_calls > 0
    assert [v.Value.Value for v in values] == [sim.scale_value(i) for i in range(1000)]
    assert reader.limit <= 100 and reader.halvings >= 4


async def test_deadbands_absolute_and_percent_of_the_range(pki, collected):
    options = SimulatorOptions(modbus_port=None, tags=3, scale_protocols=("opcua",), scale_interval=0.15)
    async with Simulator(options) as sim:
        ns = sim.opcua_namespace
        base = {"connection": "sim", "mode": "subscribe"}
        tags = [
            Tag(name="every_change", node_id=f"ns={ns};s={opcua_name(0)}", deadband=10, **base),
            Tag(name="above_step", node_id=f"ns={ns};s={opcua_name(1)}", deadband=20, **base),
            # No EURange on scale tags: 1 % of the configured range (655) becomes an absolute deadband.
            Tag(name="percent", node_id=f"ns={ns};s={opcua_name(2)}", deadband_percent=1, range=(0, 65535), **base),
            # An AnalogItem with EURange: the server gets a percent deadband.
            Tag(name="analog", node_id=f"ns={ns};s={FILLER}.SpeedActual", deadband_percent=5, **base),
        ]
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki)
        await driver.connect()
        try:
            await asyncio.wait_for(driver.subscribed.wait(), 5)
            await eventually(lambda: len(collected.of("every_change")) >= 5, timeout=10)
            health = driver.health()
        finally:
            await driver.close()
    values = [s.value for s in collected.of("every_change")]
    assert all(b - a == 13 for a, b in itertools.pairwise(values))  # each scale step is +13
    assert len(collected.of("above_step")) == 1  # only the initial value: every step is below 20
    assert len(collected.of("percent")) == 1
    assert health["deadband_items"] == {"absolute": 3, "percent": 1} and health["failed_items"] == 0


async def test_bad_status_is_stored_while_a_machine_is_powered_off(pki, collected):
    async with Simulator(SimulatorOptions(modbus_port=None, speed=1)) as sim:
        ns = sim.opcua_namespace
        tags = [Tag(name="polled", connection="sim", node_id=f"ns={ns};s={FILLER}.SpeedActual"),
                Tag(name="pushed", connection="sim", node_id=f"ns={ns};s={FILLER}.State", mode="subscribe"),
                Tag(name="other", connection="sim", node_id=f"ns={ns};s=Packaging.Line1.Capper.State")]
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki)
        await driver.connect()
        try:
            await asyncio.wait_for(driver.subscribed.wait(), 5)
            await eventually(lambda: collected.of("pushed"))
            sim.power("filler", False)
            await eventually(lambda: any(is_bad(s.status) for s in collected.of("pushed")))
            polled = {s.tag: s for s in await driver.read_group("default")}
            sim.power("filler", True)
            await eventually(lambda: is_good(collected.of("pushed")[-1].status))
        finally:
            await driver.close()
    assert polled["polled"].status == BAD_NO_COMMUNICATION and polled["polled"].value is None
    assert polled["polled"].time is not None and polled["polled"].server_time is not None
    assert is_good(polled["other"].status)
    off = next(s for s in collected.of("pushed") if is_bad(s.status))
    assert off.status == BAD_NO_COMMUNICATION and off.value is None


async def test_an_unknown_node_among_good_ones_only_spoils_itself(pki, collected):
    async with Simulator(SimulatorOptions(modbus_port=None)) as sim:
        ns = sim.opcua_namespace
        names = ["State", "GoodCount", "RejectCount", "SpeedActual", "Misspelt"]
        tags = [Tag(name=n, connection="sim", node_id=f"ns={ns};s={FILLER}.{n}") for n in names]
        tags += [Tag(name=f"sub_{n}", connection="sim", node_id=f"ns={ns};s={FILLER}.{n}", mode="subscribe")
                 for n in names]
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki)
        await driver.connect()
        try:
            polled = {s.tag: s for s in await driver.read_group("default")}
            await asyncio.wait_for(driver.subscribed.wait(), 5)
            await eventually(lambda: all(collected.of(f"sub_{n}") for n in names))
            health = driver.health()
        finally:
            await driver.close()
    assert polled["Misspelt"].status == BAD_NODE_ID_UNKNOWN
    assert all(is_good(polled[n].status) for n in names[:-1])
    assert collected.of("sub_Misspelt")[0].status == BAD_NODE_ID_UNKNOWN
    assert all(is_good(collected.of(f"sub_{n}")[0].status) for n in names[:-1])
    assert health["failed_items"] == 1 and health["monitored_items"] == 4


async def test_server_restart_data_flows_again_within_seconds_with_one_session(pki, collected):
    options = SimulatorOptions(modbus_port=None, tags=5, scale_protocols=("opcua",), scale_interval=0.2)
    async with Simulator(options) as sim:
        tags = scale_tags(sim, 5, mode="subscribe")
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki, backoff_initial=0.2,
                             backoff_max=1.0)
        await driver.connect()
        try:
            await asyncio.wait_for(driver.subscribed.wait(), 5)
            await eventually(lambda: collected.of("s0"))
            assert sessions(sim) == 1
            await sim.restart_opcua(downtime=1.0)
            restarted = time.monotonic()
            before = len(collected.of("s0"))
            await eventually(lambda: len(collected.of("s0")) > before + 2 and is_good(collected.of("s0")[-1].status),
                             timeout=15)
            recovered = time.monotonic() - restarted
            assert sessions(sim) == 1
            health = driver.health()
        finally:
            await driver.close()
        await eventually(lambda: sessions(sim) == 0)
    assert recovered < 8
    assert health["reconnects"] == 1 and health["state"] == "connected"
    assert any(s.status == BAD_NO_COMMUNICATION for s in collected.of("s0"))


async def test_sign_and_encrypt_with_user_name_and_an_untrusted_server(pki, tmp_path, monkeypatch):
    options = SimulatorOptions(modbus_port=None, security=("Basic256Sha256_SignAndEncrypt",),
                               users={"operator": "brew-2026"}, allow_anonymous=False)
    monkeypatch.setenv("SIM_PASSWORD", "brew-2026")
    async with Simulator(options) as sim:
        trust = tmp_path / "trusted"
        security = OpcuaSecurity(policy="Basic256Sha256", mode="SignAndEncrypt", username="operator",
                                 password="env:SIM_PASSWORD", trust_dir=str(trust))
        tags = [Tag(name="state", connection="sim", node_id=f"ns={sim.opcua_namespace};s={FILLER}.State")]
        driver = OpcuaDriver(sim_connection(sim, security=security), tags, pki_dir=pki)
        with pytest.raises(UntrustedServerCertificate, match="is not trusted"):
            await driver.connect()
        await driver.close()
        assert sessions(sim) == 0
        trust.mkdir()
        (trust / "simulator.der").write_bytes(await fetch_server_certificate(sim.opcua_endpoint))
        await driver.connect()
        try:
            (sample,) = await driver.read_group("default")
            assert sessions(sim) == 1
        finally:
            await driver.close()
    assert is_good(sample.status)


async def test_a_dropped_connection_resumes_its_session_instead_of_leaving_one_behind(pki, collected):
    options = SimulatorOptions(modbus_port=None, tags=5, scale_protocols=("opcua",), scale_interval=0.2)
    async with Simulator(options) as sim:
        tags = scale_tags(sim, 5, mode="subscribe")
        driver = OpcuaDriver(sim_connection(sim), tags, sink=collected, pki_dir=pki, backoff_initial=0.2,
                             backoff_max=1.0)
        await driver.connect()
        try:
            await asyncio.wait_for(driver.subscribed.wait(), 5)
            await eventually(lambda: collected.of("s0"))
            assert sim.drop_connections("opcua") == 1  # the server keeps the session, only the socket dies
            await eventually(lambda: driver.health()["reconnects"] == 1 and driver.health()["state"] == "connected")
            before = len(collected.of("s0"))
            await eventually(lambda: len(collected.of("s0")) > before + 2)
            assert sessions(sim) == 1
            subscriptions = len(sim.opcua.server.iserver.subscription_service.subscriptions)
        finally:
            await driver.close()
        await eventually(lambda: sessions(sim) == 0)
    assert subscriptions == 1  # the old session's subscription was deleted, not left running


async def test_writes_land_as_the_nodes_type_and_refusals_are_typed(pki):
    from collectors.errors import BadAddress

    async with Simulator(SimulatorOptions(modbus_port=None, speed=0)) as sim:
        ns = sim.opcua_namespace
        tags = [Tag(name="setpoint", connection="sim", node_id=f"ns={ns};s={FILLER}.SpeedSetpoint", writable=True),
                Tag(name="enable", connection="sim", node_id=f"ns={ns};s={FILLER}.Enable", writable=True),
                Tag(name="state", connection="sim", node_id=f"ns={ns};s={FILLER}.State", writable=True)]
        driver = OpcuaDriver(sim_connection(sim), tags, pki_dir=pki)
        await driver.connect()
        try:
            await driver.write("setpoint", 120)  # an int for a Double node
            await driver.write("enable", 0)  # a number for a Boolean node
            with pytest.raises(BadAddress, match="BadOutOfRange"):
                await driver.write("setpoint", 1e9)
            with pytest.raises(BadAddress, match=r"BadNotWritable|BadUserAccessDenied"):
                await driver.write("state", 3)
            values = {s.tag: s.value for s in await driver.read_group("default")}
        finally:
            await driver.close()
    assert values["setpoint"] == 120.0 and values["enable"] == 0.0


async def test_the_example_configs_opcua_tags_all_resolve_on_the_simulator(repo, pki, collected):
    from collectors.config import load_plant

    async with Simulator(SimulatorOptions(modbus_port=None, scenario="brewery,process")) as sim:
        for name in ("brewery.yaml", "process.yaml"):
            plant = load_plant(repo / "examples" / name)
            for connection in plant.connections:
                if connection.protocol != "opcua":
                    continue
                tags = plant.tags_of(connection.id)
                moved = connection.model_copy(update={"endpoint": sim.opcua_endpoint})
                driver = OpcuaDriver(moved, tags, sink=collected, pki_dir=pki)
                await driver.connect()
                try:
                    polled = [s for g in moved.poll_groups for s in await driver.read_group(g.name)]
                    if any(tag.mode == "subscribe" for tag in tags):
                        await asyncio.wait_for(driver.subscribed.wait(), 10)
                    health = driver.health()
                finally:
                    await driver.close()
                assert health["unresolved_tags"] == 0 and health["failed_items"] == 0, (name, health)
                assert all(s.status != BAD_NODE_ID_UNKNOWN for s in polled), name



async def test_create_monitored_items_over_the_enforced_limit_is_halved_until_it_passes(collected):
    from asyncua import Client, ua

    from collectors.config.models import SubscriptionGroup
    from collectors.drivers.opcua.limits import OperationLimits as Limits
    from collectors.drivers.opcua.points import Point
    from collectors.drivers.opcua.subscriptions import Inbox, Monitored, SubscriptionSet

    options = SimulatorOptions(modbus_port=None, tags=600, scale_protocols=("opcua",), scale_interval=3600,
                               limits=OperationLimits(max_monitored_items_per_call=100))
    async with Simulator(options) as sim:
        client = Client(sim.opcua_endpoint)
        await client.connect()
        try:
            tags = scale_tags(sim, 600, mode="subscribe")
            points = [Point.of(i, tag) for i, tag in enumerate(tags)]
            group = SubscriptionGroup(name="default", publishing_interval=0.1, sampling_interval=0.05)
            limits = Limits(monitored_items_per_call=1000)  # as if the server had advertised no limit
            subscriptions = SubscriptionSet(client.uaclient, limits, Inbox(points, collected, 10_000), 0)
            items = [Monitored(p, group, ua.NodeId(opcua_name(p.handle), sim.opcua_namespace)) for p in points]
            failed = await subscriptions.add(items)
        finally:
            await client.disconnect()
        assert sim.opcua.rejected_calls > 0
    assert failed == [] and subscriptions.items_created == 600
    assert limits.monitored_items_per_call <= 100
