"""One MQTT 5 client of a configured broker (paho-mqtt), shared by the edge node and ingest."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collectors.config.models import Mqtt
from collectors.errors import ConfigError

DEFAULT_PORT, DEFAULT_TLS_PORT = 1883, 8883


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of ``mqtt://host[:port]`` or ``mqtts://…``."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError([f"mqtt.url: {url!r} is not mqtt://host[:port] or mqtts://host[:port]"])
    tls = parts.scheme == "mqtts"
    return parts.hostname, parts.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT), tls


def new_client(
    config: Mqtt,
    client_id: str,
    *,
    clean_start: bool,
    will: tuple[str, bytes, bool] | None = None,
) -> tuple[paho.Client, Properties]:
    """A paho MQTT 5 client (not connected) and the CONNECT properties to pass to ``connect``.

    ``will`` is (topic, payload, retain), sent at QoS 1. A persistent session (``clean_start`` False)
    lives ``config.session_expiry`` s after a disconnect, so a restarted ingest gets what it missed.
    """
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    _, _, tls = broker_address(config.url)
    if tls:
        client.tls_set_context(ssl.create_default_context())
    if config.username is not None:
        client.username_pw_set(config.username, _password(config))
    if will is not None:
        topic, payload, retain = will
        client.will_set(topic, payload, qos=1, retain=retain)
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0 if clean_start else config.session_expiry
    return client, properties


def connect(client: paho.Client, config: Mqtt, properties: Properties, *, clean_start: bool) -> None:
    """Open the TCP connection and send CONNECT (the CONNACK arrives in the network loop)."""
    host, port, _ = broker_address(config.url)
    client.connect(host, port, keepalive=config.keepalive, clean_start=clean_start, properties=properties)


def _password(config: Mqtt) -> str | None:
    if config.password_file is None:
        return None
    try:
        return Path(config.password_file).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError([f"mqtt.password_file: {config.password_file}: {exc.strerror}"]) from exc


def reason_failed(reason_code: Any) -> bool:
    """paho hands a ReasonCode (MQTT 5) or an int; True when it says failure."""
    return bool(getattr(reason_code, "is_failure", reason_code not in (0, None)))
