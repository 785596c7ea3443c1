"""Scenario names → models."""

from __future__ import annotations

from datetime import datetime

from simulator.model import Model
from simulator.options import SimulatorOptions


def build_models(options: SimulatorOptions, start: datetime) -> dict[str, Model]:
    models: dict[str, Model] = {}
    for name in options.scenario_names():
        if name == "brewery":
            from simulator.brewery import BreweryLine

            models[name] = BreweryLine(options.seed, start, options.order_minutes, options.counter_start,
                                       options.setpoint_entry)
        elif name == "process":
            from simulator.process import CuringLine

            models[name] = CuringLine(options.seed, start)
        elif name == "utilities":
            from simulator.utilities import Utilities

            models[name] = Utilities(options.seed, start)
        elif name == "motors":
            from simulator.motors import MotorFleet

            models[name] = MotorFleet(options.seed, start)
    return models
