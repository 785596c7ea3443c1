"""Fast OPC UA server start: the standard address space is built once per process.

asyncua fills its standard address space (~6000 nodes) from generated code on
every ``Server.init()``, which takes 1–2 s. Tests start many simulators, so the
first server's freshly filled nodes are kept as a template and later servers
get a structural copy (new node and attribute objects, shared immutable values)
in a fraction of the time. Nothing is shared between servers that either of them
mutates: values are replaced, never changed in place, and callback tables and
reference lists are fresh per copy.
"""

from __future__ import annotations

from typing import Any

from asyncua import Server
from asyncua.server.address_space import AttributeValue, NodeData

from simulator.memory import paused_gc

_template: dict[Any, NodeData] | None = None


def _copy_nodes(nodes: Any) -> dict[Any, NodeData]:
    copied: dict[Any, NodeData] = {}
    for nodeid, node in nodes.items():
        new = NodeData(nodeid)
        attributes = {}
        for attribute_id, attribute in node.attributes.items():
            value = AttributeValue(attribute.value)
            value.value_callback = attribute.value_callback
            value.value_setter = attribute.value_setter
            attributes[attribute_id] = value
        new.attributes = attributes
        new.references = list(node.references)
        new.call = node.call
        copied[nodeid] = new
    return copied


def use_cached_standard_space(server: Server) -> None:
    """Make ``server.init()`` copy the process-wide standard address space instead of rebuilding it."""
    iserver = server.iserver
    original = iserver.load_standard_address_space

    async def load(shelf_file: Any = None) -> None:
        global _template
        with paused_gc():
            if _template is None:
                await original(None)
                _template = _copy_nodes(iserver.aspace._nodes)
            else:
                iserver.aspace._nodes = _copy_nodes(_template)

    iserver.load_standard_address_space = load  # type: ignore[method-assign]
