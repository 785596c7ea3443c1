"""Plant config validation: every broken config exits 2 with file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.config import load_plant, parse_plant
from collectors.errors import ConfigError
from mes.cli import app

HERE = Path(__file__).parent
VALID = (HERE / "valid_plant.yaml").read_text()


def broken(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_valid_config_loads_with_its_structure() -> None:
    plant = load_plant(HERE / "valid_plant.yaml")
    assert plant.site.timezone == "Europe/Berlin"
    assert [line.id for line in plant.lines()] == ["line1"]
    assert plant.connection("scada").security.password == "secret"
    assert plant.tags[3].byte_order.value == "CDAB"
    assert plant.tags[3].register_count == 2


def test_env_variable_is_substituted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPCUA_PASSWORD", "from-env")
    plant = parse_plant(VALID)
    assert plant.connection("scada").security.password == "from-env"


CASES = {
    "wrong type": (
        "port: 5020", "port: fifty", "port: fifty", "connections[0].port", "valid integer",
    ),
    "unknown connection": (
        "{name: filler_reject, connection: plc1,", "{name: filler_reject, connection: plc9,",
        "name: filler_reject", "tags[2].connection", "unknown connection 'plc9'",
    ),
    "duplicate tag name": (
        "{name: filler_reject,", "{name: filler_good,", "filler_good, connection: plc1, unit_id: 1, "
        "table: holding_register, address: 2", "tags[2].name", "duplicate tag name 'filler_good'",
    ),
    "register out of range": (
        "address: 10", "address: 70000", "address: 70000", "tags[3].address",
        "register 70000 is out of range",
    ),
    "unknown byte order": (
        "byte_order: CDAB", "byte_order: CADB", "byte_order: CADB", "tags[3].byte_order", "ABCD",
    ),
    "missing env variable": (
        "${TEST_OPCUA_PASSWORD:-secret}", "${LINEBRAIN_TEST_UNSET_VARIABLE}", "password:",
        "connections[1].security.password", "environment variable LINEBRAIN_TEST_UNSET_VARIABLE is not set",
    ),
    "overlapping state codes": (
        "fault: [3, 4]", "fault: [2, 4]", "fault: [2, 4]", "state.codes.fault",
        "code 2 is mapped to both idle and fault",
    ),
    "unknown field": (
        "micro_stop_seconds: 20", "micro_stop_secs: 20", "micro_stop_secs", "micro_stop_secs",
        "Extra inputs are not permitted",
    ),
    "multi-register value past the end": (
        "address: 10", "address: 65535", "address: 65535", "tags[3].address", "ends at 65536",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_config_names_line_and_field(case: str, tmp_path: Path) -> None:
    old, new, line_marker, field, message = CASES[case]
    text = broken(old, new)
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    expected_line = line_of(text, line_marker)
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    matching = [row for row in output.splitlines() if field in row and message in row]
    assert matching, output
    assert matching[0].startswith(f"{path}:{expected_line}: "), (matching[0], expected_line)


def test_parse_error_reports_yaml_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_plant("site:\n  name: x\n  timezone: [unclosed\n", "p.yaml")
    assert info.value.problems[0].startswith("p.yaml:")


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"site.timezone: unknown time zone 'Mars/Olympus'"):
        parse_plant(VALID.replace("Europe/Berlin", "Mars/Olympus"))


def test_check_cli_exit_codes_in_a_real_process(tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "mes.cli", "check", str(HERE / "valid_plant.yaml")],
        capture_output=True, text=True, check=False,
    )
    assert good.returncode == 0, good.stderr
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(broken("address: 10", "address: 70000"))
    bad = subprocess.run(
        [sys.executable, "-m", "mes.cli", "check", str(bad_file)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert f"{bad_file}:{line_of(bad_file.read_text(), 'address: 70000')}: tags[3].address:" in bad.stderr


def test_examples_are_valid(repo: Path) -> None:
    examples = sorted((repo / "examples").glob("*.yaml"))
    assert examples, "examples/ must hold at least one plant config"
    result = CliRunner().invoke(app, ["check", *map(str, examples)])
    assert result.exit_code == 0, result.output
