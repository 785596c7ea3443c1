from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collectors.mqtt.broker import Mosquitto


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(Path(tmp_path_factory.mktemp("mosquitto")))
    broker.start()
    yield broker
    broker.stop()
