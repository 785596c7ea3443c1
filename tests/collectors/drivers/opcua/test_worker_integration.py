"""The OPC UA driver under the connection worker: polled groups on the worker's schedule,
subscriptions pushed by the driver, and a silent server detected and left behind."""

from __future__ import annotations

import asyncio

from collectors.config.models import OpcuaConnection, PollGroup, SubscriptionGroup, Tag
from collectors.drivers.opcua import OpcuaDriver
from collectors.samples import BAD_NO_COMMUNICATION, is_good
from collectors.worker import Backoff, ConnectionWorker
from simulator.options import SimulatorOptions
from simulator.scale import opcua_name
from simulator.simulator import Simulator
from tests.collectors.drivers.opcua.test_plain_server import eventually


async def test_worker_polls_while_the_driver_pushes_subscriptions(pki, collected):
    options = SimulatorOptions(modbus_port=None, tags=4, scale_protocols=("opcua",), scale_interval=0.2)
    async with Simulator(options) as sim:
        ns = sim.opcua_namespace
        connection = OpcuaConnection(
            id="sim", protocol="opcua", endpoint=sim.opcua_endpoint, timeout=1.0,
            poll_groups=[PollGroup(name="fast", interval=0.1)],
            subscriptions=[SubscriptionGroup(name="default", publishing_interval=0.1, sampling_interval=0.05)],
        )
        tags = [Tag(name="polled", connection="sim", node_id=f"ns={ns};s={opcua_name(0)}", group="fast"),
                Tag(name="pushed", connection="sim", node_id=f"ns={ns};s={opcua_name(1)}", mode="subscribe")]
        driver = OpcuaDriver(connection, tags, sink=collected, pki_dir=pki, backoff_initial=0.2, backoff_max=1.0)
        worker = ConnectionWorker(driver, {"fast": 0.1}, collected, group_tags={"fast": ["polled"]},
                                  backoff=Backoff(initial=0.2, maximum=1.0))
        task = asyncio.create_task(worker.run())
        try:
            await eventually(lambda: len(collected.of("polled")) > 5 and len(collected.of("pushed")) > 2)
            # The server stops reading its sockets: keep-alives stop, the probe Read times out.
            sim.stop_answering("opcua")
            await eventually(lambda: collected.of("pushed")[-1].status == BAD_NO_COMMUNICATION, timeout=20)
            sim.clear_faults()
            sim.drop_connections("opcua")  # the stalled sockets would otherwise hold stale requests
            await eventually(lambda: is_good(collected.of("pushed")[-1].status)
                             and is_good(collected.of("polled")[-1].status), timeout=20)
            health = worker.health()
        finally:
            worker.stop()
            await task
    assert health["driver"]["state"] == "connected" and health["driver"]["reconnects"] >= 1
    assert health["groups"]["fast"]["cycles"] > 5
    values = [s.value for s in collected.of("polled") if is_good(s.status)]
    assert len(set(values)) > 1  # the scale tag kept changing while polled
