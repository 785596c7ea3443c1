"""Where a collector process keeps its spool: ``storage.spool_dir`` of the config is honoured."""

from __future__ import annotations

from pathlib import Path

import yaml

from mes.cli.collect import _service
from tests.collectors.store.helpers import plant


def _config(tmp_path: Path, **storage: object) -> Path:
    path = tmp_path / "conf" / "line1.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(plant(1, **storage).model_dump(mode="json", exclude_defaults=True)))
    return path


def test_the_configured_spool_dir_is_used_relative_to_the_config_file(db_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, spool_dir="spools")
    _plant, _url, service = _service(config, None, 0, None, db_url, tmp_path / "data", "collect")
    assert service.options.spool_dir == tmp_path / "conf" / "spools" / "line1"
    absolute = _config(tmp_path, spool_dir=str(tmp_path / "elsewhere"))
    _plant, _url, service = _service(absolute, "plc", 0, None, db_url, None, "run")
    assert service.options.spool_dir == tmp_path / "elsewhere" / "line1-plc"


def test_without_a_configured_spool_dir_the_data_dir_holds_it_and_the_option_wins(db_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path)
    _plant, _url, service = _service(config, None, 0, None, db_url, tmp_path / "data", "collect")
    assert service.options.spool_dir == tmp_path / "data" / "spool" / "line1"
    chosen = tmp_path / "mine"
    _plant, _url, service = _service(_config(tmp_path, spool_dir="x"), None, 0, chosen, db_url, None, "collect")
    assert service.options.spool_dir == chosen
