"""``linebrain simulate``: --describe prints the register map and node tree; a short run serves and stops."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mes.cli import app


def test_describe_prints_register_map_and_node_tree() -> None:
    result = CliRunner().invoke(app, ["simulate", "--describe", "--scenario", "all", "--tags", "1200",
                                      "--max-nodes-per-read", "500"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Modbus register map" in out and "OPC UA node tree" in out
    assert "   1  holding_register    10  1  uint16" in out and "Packaging.Line1.Filler.GoodCount" in out
    assert "uint32 CDAB" in out and "float32 CDAB" in out and "string[8]" in out and "bit 0" in out
    assert "int16 ×0.1" in out
    assert "ns=2;s=Impregnation.CuringLine.Autoclave.Temperature" in out
    assert "Utilities" in out and "Motor03" in out
    assert "scale: 1200 uint16 holding registers, units 100..100" in out
    assert "MaxNodesPerRead 500" in out


def test_unknown_scenario_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "winery", "--describe"])
    assert result.exit_code == 2
    assert "unknown scenario 'winery'" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--speed", "nan"], "speed must be a finite number, not nan"),
    (["--speed", "1e300"], "speed must lie between 0 and 1e+06"),
    (["--scale-interval", "inf"], "scale_interval must be a finite number, not inf"),
    (["--order-minutes", "0"], "order_minutes must be positive"),
    (["--duration", "nan"], "--duration must be a positive finite number"),
])  # fmt: skip
def test_numbers_out_of_their_bounds_are_refused_naming_the_option(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", *args, "--describe"])
    assert result.exit_code == 2 and message in result.output, result.output


def test_demo_refuses_a_speed_or_duration_out_of_bounds_before_starting_anything() -> None:
    for args, message in ((["--speed", "inf"], "--speed must be a finite number"),
                          (["--duration", "-5"], "--duration must be positive")):
        result = CliRunner().invoke(app, ["demo", *args, "--database-url", "postgresql://nowhere.invalid/x"])
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_short_run_reports_its_ports() -> None:
    result = CliRunner().invoke(app, ["simulate", "--scenario", "brewery", "--opcua-port", "0", "--modbus-port", "0",
                                      "--security", "None", "--duration", "0.3"])
    assert result.exit_code == 0, result.output
    assert "Modbus TCP on 127.0.0.1:" in result.output and "OPC UA on opc.tcp://127.0.0.1:" in result.output


def test_docs_list_the_current_register_map_and_node_tree(repo) -> None:
    from simulator import Simulator, SimulatorOptions
    from simulator.describe import node_tree, register_map

    docs = (repo / "docs" / "simulator.md").read_text()
    sim = Simulator(SimulatorOptions(scenario="all"))
    missing = [line for line in register_map(sim.points) + node_tree(sim.points) if line not in docs]
    hint = "docs/simulator.md is out of date; regenerate it from linebrain simulate --describe:\n"
    assert not missing, hint + "\n".join(missing[:10])


def test_start_time_is_parsed_and_bad_ones_refused() -> None:
    good = CliRunner().invoke(app, ["simulate", "--start", "2026-01-05T07:00:00Z", "--describe", "--scenario",
                                    "brewery"])
    assert good.exit_code == 0, good.output
    bad = CliRunner().invoke(app, ["simulate", "--start", "yesterday", "--describe"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
