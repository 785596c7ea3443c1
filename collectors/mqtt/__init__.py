"""MQTT: collectors publish as Sparkplug B edge nodes; ``ingest`` stores what edge nodes publish.

Public API::

    edge = SparkplugEdge.for_node(plant, "collect-plc1", tags, spool_dir)   # a pipeline store
    beside = PublishBeside.for_node(plant, "collect-plc1", tags, spool_dir)  # beside the database store
    host = SparkplugHost(plant, SampleStore.for_plant(...), name="ingest-1"); host.start(); host.stop()
"""

from collectors.mqtt.beside import PublishBeside
from collectors.mqtt.edge import SparkplugEdge
from collectors.mqtt.host import HostStats, SparkplugHost, json_sample
from collectors.mqtt.namespace import EdgeNamespace, device_of_tags

__all__ = [
    "EdgeNamespace",
    "HostStats",
    "PublishBeside",
    "SparkplugEdge",
    "SparkplugHost",
    "device_of_tags",
    "json_sample",
]
