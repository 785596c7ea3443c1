"""The line simulator: realistic plant lines served over Modbus TCP and OPC UA.

Public API::

    from simulator import Simulator, SimulatorOptions, OperationLimits

    async with Simulator(SimulatorOptions(scenario="brewery", seed=1, speed=60)) as sim:
        sim.modbus_port, sim.opcua_endpoint, sim.describe(), sim.counters("filler")

See ``simulator/README.md`` and ``docs/simulator.md``.
"""

from simulator.model import STATE_CODES, CounterTruth, StateEvent
from simulator.options import SCENARIOS, OperationLimits, SimulatorOptions
from simulator.points import ModbusLocation, Point
from simulator.simulator import Simulator

__all__ = [
    "SCENARIOS",
    "STATE_CODES",
    "CounterTruth",
    "ModbusLocation",
    "OperationLimits",
    "Point",
    "Simulator",
    "SimulatorOptions",
    "StateEvent",
]
