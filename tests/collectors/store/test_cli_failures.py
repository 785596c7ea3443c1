"""CLI verbs facing an operator's problem print one clear line, not a traceback; logging is LineBrain's own."""

from __future__ import annotations

import logging
from pathlib import Path

import yaml
from typer.testing import CliRunner

from collectors.store.spool import Spool
from mes.cli import app
from mes.cli.collect import configure_logging
from tests.collectors.store.helpers import plant

_UNREACHABLE = "postgresql://linebrain@127.0.0.1:9/nowhere"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(plant(1).model_dump(mode="json", exclude_defaults=True)))
    return path


def _one_line(output: str) -> str:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_import_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("time,tag,value\n2026-01-01T00:00:00+00:00,t0,1\n")
    result = CliRunner().invoke(app, ["import", str(tmp_path / "rows.csv"), "--config", str(_config(tmp_path)),
                                      "--database-url", _UNREACHABLE])  # fmt: skip
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert _one_line(result.output).startswith("database unreachable: ")


def test_collect_with_an_unreachable_database_and_no_remembered_tags_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["collect", str(_config(tmp_path)), "--database-url", _UNREACHABLE,
                                      "--spool-dir", str(tmp_path / "spool"), "--metrics-port", "0"])  # fmt: skip
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "database unreachable and no tag ids remembered" in result.output.splitlines()[-1]
    assert "Traceback" not in result.output


def test_collect_on_a_spool_held_by_another_process_is_one_line(db_url: str, tmp_path: Path) -> None:
    held = Spool(tmp_path / "spool", 1 << 20)
    held.open()
    try:
        result = CliRunner().invoke(app, ["collect", str(_config(tmp_path)), "--database-url", db_url,
                                          "--spool-dir", str(tmp_path / "spool"), "--metrics-port", "0"])  # fmt: skip
    finally:
        held.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "is in use by another LineBrain process" in result.output.strip().splitlines()[-1]
    assert "Traceback" not in result.output


def test_library_chatter_stays_at_warning_and_the_log_level_sets_ours() -> None:
    try:
        configure_logging("info")
        assert logging.getLogger("linebrain.collect").isEnabledFor(logging.INFO)
        assert logging.getLogger("collectors.drivers.opcua.driver").isEnabledFor(logging.INFO)
        assert not logging.getLogger("asyncua.client.ua_client").isEnabledFor(logging.INFO)
        assert logging.getLogger("asyncua.client.ua_client").isEnabledFor(logging.WARNING)
        configure_logging("warning")
        assert not logging.getLogger("linebrain.store").isEnabledFor(logging.INFO)
        configure_logging("debug")
        assert logging.getLogger("linebrain.store").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("pymodbus").isEnabledFor(logging.INFO)
    finally:
        for name in ("linebrain", "collectors", "mes", "simulator"):
            logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger().setLevel(logging.WARNING)
