"""The small plant the MQTT tests publish and ingest, as a dict (written to YAML for subprocesses)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml

from collectors.config import load_plant
from collectors.config.models import Plant


def plant_dict(broker_url: str, tags: int = 4, keepalive: int = 30, primary_host: str | None = None) -> dict[str, Any]:
    """Numeric tags t0..tN-1 and a text tag; t0 and t1 are bound to line L1 (Sparkplug device L1), the
    rest are devices by connection (plc). Each plant gets its own shared-subscription group: the broker keeps
    a stopped ingest's session (and its share of the messages) for ``session_expiry``, as it should in a plant."""
    return {
        "site": {"name": "MQTT test"},
        "mqtt": {"url": broker_url, "keepalive": keepalive, "primary_host": primary_host,
                 "share": f"s{uuid.uuid4().hex[:12]}"},
        "areas": [{"id": "A1", "lines": [{"id": "L1", "bindings": {"speed": "t1", "good_count": {"tag": "t0"}}}]}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 5020}],
        "tags": [
            *({"name": f"t{i}", "connection": "plc", "table": "holding_register", "address": i * 2,
               "data_type": "float32", "heartbeat": 0} for i in range(tags)),
            {"name": "batch_code", "connection": "plc", "table": "holding_register", "address": 100,
             "data_type": "string", "length": 4, "heartbeat": 0},
        ],
    }  # fmt: skip


def write_plant(folder: Path, config: dict[str, Any]) -> tuple[Path, Plant]:
    path = folder / "plant.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, load_plant(path)
