"""Scenario names → models."""

from __future__ import annotations

from datetime import datetime

from collectors.simulator.model import Model
from collectors.simulator.options import SimulatorOptions


def build_models(options: SimulatorOptions, start: datetime) -> dict[str, Model]:
    models: dict[str, Model] = {}
    for name in options.scenario_names():
        if name == "brewery":
            from collectors.simulator.brewery import BreweryLine

            models[name] = BreweryLine(options.seed, start, options.order_minutes, options.counter_start)
        elif name == "process":
            from collectors.simulator.process import CuringLine

            models[name] = CuringLine(options.seed, start)
        elif name == "utilities":
            from collectors.simulator.utilities import Utilities

            models[name] = Utilities(options.seed, start)
    return models
