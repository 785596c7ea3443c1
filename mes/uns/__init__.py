"""MES events published to the MQTT unified namespace (state changes, counts, orders, OEE per shift)."""

from mes.uns.events import MesEvent, UnsPublisher, collect_events, topic_paths

__all__ = ["MesEvent", "UnsPublisher", "collect_events", "topic_paths"]
