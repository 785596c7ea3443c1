"""Sparkplug B: the payload schema (``sparkplug_b.proto``), its classes and the sample codec."""

from collectors.sparkplug.payloads import (
    NAMESPACE,
    Topic,
    add_sample,
    aliases_for,
    decode,
    metric_alias,
    metric_sample,
    new_payload,
    parse_topic,
    topic_id,
)
from collectors.sparkplug.schema import payload_class

__all__ = [
    "NAMESPACE",
    "Topic",
    "add_sample",
    "aliases_for",
    "decode",
    "metric_alias",
    "metric_sample",
    "new_payload",
    "parse_topic",
    "payload_class",
    "topic_id",
]
