"""A user name and password on security policy None is refused unless the config says
``allow_plaintext_password: true``: by ``check``, and again at connect time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.config.models import OpcuaConnection, OpcuaSecurity, Tag
from collectors.drivers.opcua import OpcuaDriver, SecurityError
from mes.cli import app
from tests.collectors.config.test_plant_config import broken, line_of
from tests.collectors.drivers.opcua.servers import PlainServer
from tests.collectors.drivers.opcua.test_browse_cli import linebrain

UNSIGNED = "policy: None\n      mode: None"
SIGNED = "policy: Basic256Sha256\n      mode: SignAndEncrypt"


def test_check_refuses_a_password_on_policy_none_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(broken(SIGNED, UNSIGNED))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 2, result.output
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    (row,) = {row for row in output.splitlines() if "connections[1].security: " in row}  # output may repeat stderr
    line = int(row.removeprefix(f"{path}:").split(":", 1)[0])
    block = range(line_of(path.read_text(), "security:"), line_of(path.read_text(), "password:") + 1)
    assert line in block, (row, block)  # the security section of that connection
    assert "unprotected" in row and "allow_plaintext_password: true" in row, row


def test_check_accepts_it_when_the_config_says_so_explicitly(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(broken(SIGNED, UNSIGNED + "\n      allow_plaintext_password: true"))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output


def _connection(server: PlainServer, allow: bool) -> tuple[OpcuaConnection, list[Tag]]:
    # model_construct: a config built in code skips the loader; the driver must refuse on its own.
    security = OpcuaSecurity().model_copy(
        update={"username": "operator", "password": "s3cret", "allow_plaintext_password": allow})
    connection = OpcuaConnection(id="plain", protocol="opcua", endpoint=server.endpoint)
    connection = connection.model_copy(update={"security": security})
    return connection, [Tag(name="v1", connection="plain", node_id=f"ns={server.index};s=Line1.V1")]


@pytest.fixture
async def plain_server():
    server = await PlainServer(count=2).start()
    yield server
    await server.stop()


async def test_connect_refuses_a_password_on_policy_none(plain_server: PlainServer, tmp_path: Path) -> None:
    connection, tags = _connection(plain_server, allow=False)
    driver = OpcuaDriver(connection, tags, pki_dir=tmp_path / "pki")
    with pytest.raises(SecurityError, match="allow_plaintext_password"):
        await driver.connect()
    await driver.close()
    assert plain_server.session_count() == 0


async def test_connect_with_the_explicit_allowance_logs_policy_mode_and_a_warning(
    plain_server: PlainServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    connection, tags = _connection(plain_server, allow=True)
    driver = OpcuaDriver(connection, tags, pki_dir=tmp_path / "pki")
    with caplog.at_level(logging.INFO, logger="collectors.drivers.opcua"):
        await driver.connect()
    try:
        assert (await driver.read_group("default"))[0].value == 1.0
    finally:
        await driver.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("security policy None, mode None, user name login" in m for m in messages), messages
    assert any(r.levelno == logging.WARNING and "unsigned channel" in r.getMessage() for r in caplog.records)
    assert not any("s3cret" in m for m in messages)


async def test_browse_refuses_it_too_and_writes_the_allowance_when_asked(plain_server: PlainServer,
                                                                         tmp_path: Path) -> None:
    # In a real process, as a user runs it (browse quiets asyncua's loggers for the process).
    login = ("--username", "operator", "--password", "s3cret")
    code, refused = await linebrain("browse", plain_server.endpoint, *login)
    assert code == 2 and "allow_plaintext_password" in refused, refused
    config = tmp_path / "browsed.yaml"
    code, written = await linebrain("browse", plain_server.endpoint, *login, "--allow-plaintext-password",
                                    "--output", str(config))  # fmt: skip
    assert code == 0, written
    assert "allow_plaintext_password: true" in config.read_text()
    checked = CliRunner().invoke(app, ["check", str(config)], env={"LINEBRAIN_OPCUA_PASSWORD": "s3cret"})
    assert checked.exit_code == 0, checked.output
