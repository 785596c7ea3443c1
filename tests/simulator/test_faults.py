"""Each injected fault has its documented effect, seen by plain pymodbus / asyncua clients."""

from __future__ import annotations

import asyncio
import time

import pytest
from asyncua import Client, ua
from pymodbus.exceptions import ModbusException

from tests.simulator.helpers import frozen, modbus_client

FILLER, CAPPER, LABELLER = 1, 2, 3


async def test_modbus_silence_for_one_unit_times_out_while_others_answer() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim, timeout=0.3)
        try:
            sim.stop_answering("modbus", unit_id=CAPPER)
            began = time.monotonic()
            with pytest.raises(ModbusException):
                await client.read_holding_registers(0, count=1, device_id=CAPPER)
            assert time.monotonic() - began >= 0.29
        finally:
            client.close()
        client = await modbus_client(sim, timeout=0.3)  # pymodbus drops a connection after a timeout
        try:
            assert not (await client.read_holding_registers(0, count=1, device_id=FILLER)).isError()
            sim.clear_faults()
            assert not (await client.read_holding_registers(0, count=1, device_id=CAPPER)).isError()
        finally:
            client.close()


async def test_slow_answers_arrive_after_the_delay() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim, timeout=2)
        try:
            sim.answer_slowly(0.4, "modbus")
            began = time.monotonic()
            result = await client.read_holding_registers(0, count=2, device_id=FILLER)
            assert not result.isError()
            assert time.monotonic() - began >= 0.39
            sim.clear_faults()
            began = time.monotonic()
            await client.read_holding_registers(0, count=2, device_id=FILLER)
            assert time.monotonic() - began < 0.3
        finally:
            client.close()


async def test_injected_exceptions_busy_and_bad_address() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim)
        try:
            sim.modbus_exception(6, unit_id=LABELLER)
            busy = await client.read_holding_registers(0, count=1, device_id=LABELLER)
            assert busy.isError() and busy.exception_code == 6
            assert not (await client.read_holding_registers(0, count=1, device_id=FILLER)).isError()
            sim.modbus_exception(2)
            bad = await client.read_input_registers(0, count=1, device_id=FILLER)
            assert bad.isError() and bad.exception_code == 2
            sim.clear_faults()
            assert not (await client.read_holding_registers(0, count=1, device_id=LABELLER)).isError()
        finally:
            client.close()


async def test_powered_off_unit_answers_gateway_target_failed() -> None:
    async with frozen() as sim:
        client = await modbus_client(sim)
        try:
            sim.power("capper", False)
            off = await client.read_holding_registers(0, count=1, device_id=CAPPER)
            assert off.isError() and off.exception_code == 0x0B
            sim.power("capper", True)
            assert not (await client.read_holding_registers(0, count=1, device_id=CAPPER)).isError()
        finally:
            client.close()


async def test_dropped_modbus_connection_is_closed_by_the_server() -> None:
    async with frozen() as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.modbus_port)
        await asyncio.sleep(0.05)
        assert sim.drop_connections("modbus") == 1
        try:
            data = await asyncio.wait_for(reader.read(100), 2)
        except ConnectionResetError:
            data = b""
        assert data == b""
        writer.close()
        client = await modbus_client(sim)  # the listener is still there
        client.close()


async def test_opcua_restart_drops_sessions_and_serves_again_on_the_same_port() -> None:
    async with frozen() as sim:
        port = sim.opcua_port
        client = Client(sim.opcua_endpoint, timeout=1)
        await client.connect()
        try:
            node = client.get_node("ns=2;s=Packaging.Line1.Filler.State")
            assert await node.read_value() > 0
            await sim.restart_opcua(downtime=0.2)
            assert sim.opcua_port == port
            with pytest.raises((ua.UaError, ConnectionError, asyncio.TimeoutError, OSError)):
                await node.read_value()
        finally:
            with pytest.raises(Exception):  # noqa: B017 - the old session is gone either way
                await client.disconnect()
                raise RuntimeError("disconnected cleanly")
        async with Client(sim.opcua_endpoint, timeout=2) as fresh:
            assert await fresh.get_node("ns=2;s=Packaging.Line1.Filler.State").read_value() > 0


async def test_opcua_silence_and_slowness() -> None:
    async with frozen() as sim, Client(sim.opcua_endpoint, timeout=1) as client:
        node = client.get_node("ns=2;s=Packaging.Line1.Filler.State")
        sim.answer_slowly(0.5, "opcua")
        began = time.monotonic()
        await node.read_value()
        assert time.monotonic() - began >= 0.49
        sim.clear_faults()
        sim.stop_answering("opcua")
        with pytest.raises((asyncio.TimeoutError, ua.UaError)):
            await node.read_value()
        sim.clear_faults()


async def test_dropped_opcua_connection_fails_the_clients_next_request() -> None:
    async with frozen() as sim:
        client = Client(sim.opcua_endpoint, timeout=1)
        await client.connect()
        node = client.get_node("ns=2;s=Packaging.Line1.Filler.State")
        assert await node.read_value() > 0
        assert sim.drop_connections("opcua") == 1
        await asyncio.sleep(0.1)
        with pytest.raises((ua.UaError, ConnectionError, asyncio.TimeoutError, OSError)):
            await node.read_value()
        client.disconnect_socket()
        async with Client(sim.opcua_endpoint, timeout=2) as again:
            assert await again.get_node("ns=2;s=Packaging.Line1.Filler.State").read_value() > 0


async def test_control_channel_switches_faults_and_reports_ground_truth() -> None:
    import json

    async with frozen(control_port=0) as sim:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.control_port)

        async def call(**request) -> dict:
            writer.write(json.dumps(request).encode() + b"\n")
            return json.loads(await asyncio.wait_for(reader.readline(), 5))

        try:
            assert (await call(op="advance", seconds=600))["result"] == 600
            status = (await call(op="status"))["result"]
            assert status["counters"]["filler"]["good"] == sim.counters("filler").good > 0
            assert status["modbus_port"] == sim.modbus_port
            assert (await call(op="modbus_exception", code=6, unit_id=CAPPER))["ok"]
            client = await modbus_client(sim)
            try:
                busy = await client.read_holding_registers(0, count=1, device_id=CAPPER)
                assert busy.isError() and busy.exception_code == 6
                assert (await call(op="clear_faults"))["ok"]
                assert not (await client.read_holding_registers(0, count=1, device_id=CAPPER)).isError()
            finally:
                client.close()
            point = (await call(op="point", name="Packaging.Line1.Filler.GoodCount"))["result"]
            assert point["value"] == sim.point("Packaging.Line1.Filler.GoodCount").value
            refused = await call(op="power", machine="bottle-washer", on=False)
            assert not refused["ok"] and "unknown machine" in refused["error"]
            assert not (await call(op="explode"))["ok"]
        finally:
            writer.close()
