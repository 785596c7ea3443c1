from tests.collectors.mqtt.conftest import mosquitto

__all__ = ["mosquitto"]
