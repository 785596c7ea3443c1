"""Writable tags in the plant config: write settings only where a write can happen, limits a write
is checked against, and errors that name the file line and field."""

from __future__ import annotations

import pytest

from collectors.config import parse_plant
from collectors.errors import ConfigError
from tests.collectors.config.test_plant_config import VALID, broken

STATE = "{name: filler_state, connection: plc1, unit_id: 1, table: holding_register, address: 0, data_type: uint16,"


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_plant(text, "plant.yaml")
    return info.value.problems


def test_a_writable_setpoint_with_limits_roles_and_tolerance_loads() -> None:
    text = broken(STATE, STATE + " writable: true, write_limits: [0, 7], write_roles: [supervisor],"
                  " write_tolerance: 0.5,")
    tag = parse_plant(text).tags[0]
    assert (tag.writable, tag.write_limits, tag.write_roles, tag.write_tolerance) == (
        True, (0, 7), ["supervisor"], 0.5)


@pytest.mark.parametrize(("extra", "field", "message"), [
    (" write_limits: [0, 7],", "tags[0].write_limits", "not writable"),
    (" write_roles: [operator],", "tags[0].write_roles", "not writable"),
    (" writable: true,", "tags[0].write_limits", "needs write_limits"),
    (" writable: true, write_limits: [5, 1],", "tags[0].write_limits", "must be below"),
    (" writable: true, write_limits: [0, 7], range: [0, 5],", "tags[0].write_limits", "outside the engineering"),
])
def test_write_settings_that_cannot_hold_are_refused_naming_line_and_field(extra, field, message) -> None:
    found = problems_of(broken(STATE, STATE + extra))
    assert any(p.startswith("plant.yaml:41: ") and field in p and message in p for p in found), found


def test_an_input_register_cannot_be_writable() -> None:
    text = VALID.replace("    table: input_register\n", "    table: input_register\n    writable: true\n", 1)
    found = problems_of(text)
    assert any("tags[3].writable" in p and "cannot be written" in p for p in found), found


S7_PLANT = """site: {name: s7}
connections:
  - {id: plc3, protocol: s7, host: 127.0.0.1}
tags:
  - {name: oven, connection: plc3, s7_address: "%s", writable: true%s}
"""


@pytest.mark.parametrize(("address", "extra", "message"), [
    ("I,INT2", ", write_limits: [0, 9]", "an S7 input (I) cannot be written"),
    ("DB1,REAL4", "", "a writable numeric S7 tag needs write_limits"),
])
def test_s7_setpoints_are_checked_like_modbus_ones(address, extra, message) -> None:
    found = problems_of(S7_PLANT % (address, extra))
    assert any(p.startswith("plant.yaml:5: ") and message in p for p in found), found
    assert parse_plant(S7_PLANT % ("DB1,REAL4", ", write_limits: [0, 300]")).tags[0].writable
    assert parse_plant(S7_PLANT % ("Q,X0.1", "")).tags[0].writable  # a bit needs no limits
