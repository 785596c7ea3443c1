"""The brewery example line with its writable setpoints, served by the simulator, with the collector's
end of the write channel running: what the setpoint and recipe tests write to."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from collectors.config import load_plant
from collectors.config.models import ModbusConnection, OpcuaConnection, Plant
from collectors.drivers.modbus import ModbusDriver
from collectors.drivers.opcua import OpcuaDriver
from collectors.setpoint_queue import SetpointQueue, writable_tags
from mes.auth.models import User
from mes.production.sync import sync_plant
from simulator import Simulator, SimulatorOptions
from tests.mes.auth.helpers import add_user

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "brewery.yaml"
FILLER_SP = "Packaging.Line1.Filler.SpeedSetpoint"
CAPPER_SP = "Packaging.Line1.Capper.SpeedSetpoint"
LABELLER_SP = "Packaging.Line1.Labeller.SpeedSetpoint"


@dataclass
class Line:
    sim: Simulator
    plant: Plant
    db_url: str
    queue: SetpointQueue


def plant_for(sim: Simulator) -> Plant:
    """The example config, its connections pointed at the simulator's ports."""
    plant = load_plant(EXAMPLE)
    moved: list[Any] = []
    for conn in plant.connections:
        if isinstance(conn, ModbusConnection):
            moved.append(conn.model_copy(update={"port": sim.modbus_port}))
        elif isinstance(conn, OpcuaConnection):
            moved.append(conn.model_copy(update={"endpoint": sim.opcua_endpoint}))
    return plant.model_copy(update={"connections": moved})


ROLES = {"sam": "supervisor", "otto": "operator", "mia": "maintenance", "quinn": "quality", "max": "manager"}


def people(db_url: str, *names: str) -> dict[str, User]:
    """Users (``names``, default all of :data:`ROLES`), in the database and as the faces hand them over.
    Each costs an argon2 hash: ask only for the ones a test signs in as."""
    found = {}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in names or ROLES:
            role = ROLES[name]
            add_user(conn, name, role)
            row = conn.execute("SELECT id FROM users WHERE name = %s", (name,)).fetchone()
            assert row is not None
            found[name] = User(int(row[0]), name, role)
    return found


@contextlib.asynccontextmanager
async def writing_line(db_url: str, pki: Path, **options: Any) -> AsyncIterator[Line]:
    """Simulator + the plant in the database + drivers + the setpoint queue, all torn down after."""
    async with Simulator(SimulatorOptions(scenario="brewery", **{"speed": 0, **options})) as sim:
        plant = plant_for(sim)
        with psycopg.connect(db_url, autocommit=True) as conn:
            sync_plant(conn, plant)
        drivers: dict[str, Any] = {}
        for connection in plant.connections:
            tags = plant.tags_of(connection.id)
            drivers[connection.id] = (ModbusDriver(connection, tags) if isinstance(connection, ModbusConnection)
                                      else OpcuaDriver(connection, tags, pki_dir=pki))  # fmt: skip
            await drivers[connection.id].connect()
        queue = SetpointQueue(db_url, writable_tags(plant.tags, drivers), "test")
        stop = asyncio.Event()
        task = asyncio.create_task(queue.run(stop))
        try:
            yield Line(sim, plant, db_url, queue)
        finally:
            stop.set()
            await task
            for driver in drivers.values():
                await driver.close()
