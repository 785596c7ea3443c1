"""Where each tag sits in the Sparkplug namespace, from the plant's equipment model.

group = the Sparkplug group (``mqtt.group``, else the site name), edge node = the
collector process (its name: one per shard), device = the unit that owns the tag:
the equipment whose bindings name it, else the line whose bindings name it, else
the connection it is read over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collectors.config.models import LineBindings, Plant, Tag
from collectors.sparkplug.payloads import aliases_for, topic_id


def bound_tags(bindings: LineBindings) -> list[str]:
    """Tag names a line's or a machine's bindings refer to."""
    names = [bindings.speed, bindings.energy, bindings.order_number]
    for counter in (bindings.good_count, bindings.reject_count, bindings.total_count, bindings.rework_count):
        names.append(counter.tag if counter else None)
    if bindings.state is not None:
        names += [bindings.state.tag, bindings.state.fault_code_tag]
    return [name for name in names if name]


def device_of_tags(plant: Plant) -> dict[str, str]:
    """tag name → Sparkplug device id (equipment, then line, then connection)."""
    owner: dict[str, str] = {}
    for line in plant.lines():
        for equipment in line.equipment:
            for name in bound_tags(equipment.bindings):
                owner.setdefault(name, topic_id(equipment.id))
    for line in plant.lines():
        for name in bound_tags(line.bindings):
            owner.setdefault(name, topic_id(line.id))
    return {tag.name: owner.get(tag.name, topic_id(tag.connection)) for tag in plant.tags}


@dataclass
class EdgeNamespace:
    """One edge node's share of the namespace: its group, name, devices and metric aliases."""

    group: str
    node: str
    devices: dict[str, list[Tag]] = field(default_factory=dict)  # device → its tags, in config order
    aliases: dict[str, int] = field(default_factory=dict)  # tag name → alias
    device_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_tags(cls, plant: Plant, node: str, tags: list[Tag]) -> EdgeNamespace:
        group = topic_id(plant.mqtt.group if plant.mqtt and plant.mqtt.group else plant.site.name)
        owner = device_of_tags(plant)
        devices: dict[str, list[Tag]] = {}
        for tag in tags:
            devices.setdefault(owner[tag.name], []).append(tag)
        return cls(group, topic_id(node), devices, aliases_for(tag.name for tag in tags),
                   {tag.name: owner[tag.name] for tag in tags})  # fmt: skip
