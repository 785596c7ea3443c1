"""The Modbus collector against the line simulator: every point's value, scale mode, injected faults."""

from __future__ import annotations

import asyncio
import re

import pytest

import simulator as simulator
from collectors.config.models import DataType, ModbusConnection, Tag
from collectors.drivers.modbus import ModbusDriver, modbus_worker
from collectors.samples import GOOD, Sample, is_bad

Simulator = simulator.Simulator
SimulatorOptions = simulator.SimulatorOptions


def connection(port: int, interval: float = 0.1, timeout: float = 0.3) -> ModbusConnection:
    return ModbusConnection.model_validate({
        "id": "sim", "protocol": "modbus", "host": "127.0.0.1", "port": port, "timeout": timeout,
        "poll_groups": [{"name": "default", "interval": interval}],
    })


def tags_of(points: list) -> list[Tag]:
    tags = []
    for point in points:
        loc = point.modbus
        if loc is None:
            continue
        tags.append(Tag(
            name=re.sub(r"[^A-Za-z0-9_.\-]", "_", point.name)[:63], connection="sim", unit_id=loc.unit_id,
            table=loc.table, address=loc.address, data_type=loc.data_type, byte_order=loc.byte_order,
            scale=loc.scale, offset=loc.offset, bit=loc.bit, length=loc.length,
        ))
    return tags


async def test_every_simulated_modbus_point_reads_as_published() -> None:
    async with Simulator(SimulatorOptions(scenario="all", speed=0, opcua_port=None)) as sim:
        points = [p for p in sim.points if p.modbus is not None]
        tags = tags_of(points)
        driver = ModbusDriver(connection(sim.modbus_port), tags)
        await driver.connect()
        try:
            samples = await driver.read_group("default")
        finally:
            await driver.close()
        got = {s.tag: s for s in samples}
        assert len(got) == len(tags)
        for point, tag in zip(points, tags, strict=True):
            sample = got[tag.name]
            assert sample.status >> 30 != 2, (point.name, hex(sample.status))
            expected = point.published
            if tag.data_type in (DataType.string, DataType.string_bytewise):
                assert sample.text == expected, point.name
            elif isinstance(expected, bool) or tag.data_type in (DataType.bit, DataType.bool):
                assert bool(sample.value) == bool(expected), point.name
            else:
                tolerance = abs(tag.scale) if tag.data_type not in (DataType.float32, DataType.float64) else 1e-3
                assert sample.value == pytest.approx(float(expected), abs=tolerance, rel=1e-6), point.name


async def test_scale_mode_values_and_request_count() -> None:
    async with Simulator(SimulatorOptions(scenario="brewery", speed=0, opcua_port=None, tags=3000,
                                          scale_protocols=("modbus",), scale_interval=3600)) as sim:
        tags = [
            Tag(name=f"s{i}", connection="sim", unit_id=100, table="holding_register", address=i)
            for i in range(3000)
        ]
        driver = ModbusDriver(connection(sim.modbus_port), tags)
        assert driver.requests_per_cycle() == {"default": 24}  # 3000 / 125
        await driver.connect()
        try:
            samples = await driver.read_group("default")
        finally:
            await driver.close()
        assert [s.value for s in sorted(samples, key=lambda s: int(s.tag[1:]))] == [
            sim.scale_value(i) for i in range(3000)
        ]


async def test_a_silent_unit_in_the_simulator_leaves_the_others_good() -> None:
    async with Simulator(SimulatorOptions(scenario="brewery", speed=0, opcua_port=None)) as sim:
        tags = tags_of([p for p in sim.points if p.modbus is not None])
        units = sorted({t.unit_id for t in tags})
        assert len(units) >= 2
        dead = units[0]
        sim.stop_answering(unit_id=dead)
        received: list[Sample] = []
        worker = modbus_worker(connection(sim.modbus_port, timeout=0.1), tags, received.extend)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(1.5)
        worker.stop()
        await asyncio.wait_for(task, 5)
        unit_of = {t.name: t.unit_id for t in tags}
        last = {s.tag: s for s in received}
        assert all(is_bad(s.status) for name, s in last.items() if unit_of[name] == dead)
        assert all(s.status == GOOD or s.status >> 30 == 1 for name, s in last.items() if unit_of[name] != dead)
        alive = next(t.name for t in tags if t.unit_id != dead)
        # 15 deadlines; the dead unit costs two 0.1 s timeouts and one probe after a 1 s pause.
        assert sum(1 for s in received if s.tag == alive) >= 10
