"""The example configs read the simulator: every tag names a served point with the same encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.config import load_plant
from collectors.config.models import DataType, ModbusConnection
from simulator import Simulator, SimulatorOptions

EXAMPLES = ("brewery", "process", "utilities")


@pytest.mark.parametrize("scenario", EXAMPLES)
def test_example_tags_match_the_simulator(repo: Path, scenario: str) -> None:
    plant = load_plant(repo / "examples" / f"{scenario}.yaml")
    sim = Simulator(SimulatorOptions(scenario=scenario))
    by_location = {}
    for point in sim.points:
        loc = point.modbus
        if loc is not None:
            by_location[(loc.unit_id, loc.table, loc.address, loc.bit)] = point
    by_node = {f"ns=2;s={p.name}": p for p in sim.points if p.opcua}
    by_path = {"Objects/" + "/".join(f"2:{part}" for part in ("Plant", *p.name.split("."))): p for p in sim.points}
    assert plant.tags
    for tag in plant.tags:
        if isinstance(plant.connection(tag.connection), ModbusConnection):
            point = by_location.get((tag.unit_id, tag.table, tag.address, tag.bit))
            assert point is not None, f"{tag.name}: nothing served at unit {tag.unit_id} {tag.table} {tag.address}"
            loc = point.modbus
            expected_type = DataType.bool if loc.table.is_bit else loc.data_type
            assert (tag.data_type, tag.scale) == (expected_type, loc.scale), tag.name
            if loc.width > 1 and loc.data_type is not DataType.string:
                assert tag.byte_order == loc.byte_order, tag.name
            if loc.data_type is DataType.string:
                assert tag.length == loc.length, tag.name
        else:
            point = by_node.get(tag.node_id) if tag.node_id else by_path.get(tag.browse_path)
            assert point is not None, f"{tag.name}: no node {tag.node_id or tag.browse_path}"
        assert tag.writable == point.writable, tag.name
        if tag.unit:
            assert tag.unit == point.unit, tag.name
