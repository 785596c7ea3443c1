"""The server's operation limits, read once per session.

PLC servers often cap nodes per call at a few hundred; a request over the cap
fails as a whole (BadTooManyOperations). The limits are read from
Server/ServerCapabilities/OperationLimits at connect, in one Read. A server that
answers 0 ("no limit") or nothing still gets a fallback cap, because a single
huge request can exceed its message size instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import ua

FALLBACK_NODES_PER_READ = 1000
FALLBACK_MONITORED_ITEMS_PER_CALL = 1000
FALLBACK_NODES_PER_BROWSE = 500
FALLBACK_NODES_PER_TRANSLATE = 500
FALLBACK_NODES_PER_WRITE = 500

_IDS = ua.ObjectIds
_LIMIT_NODES = {
    "nodes_per_read": _IDS.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    "monitored_items_per_call": _IDS.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    "nodes_per_browse": _IDS.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse,
    "nodes_per_translate": _IDS.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIds,
    "nodes_per_write": _IDS.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite,
}
_FALLBACKS = {
    "nodes_per_read": FALLBACK_NODES_PER_READ,
    "monitored_items_per_call": FALLBACK_MONITORED_ITEMS_PER_CALL,
    "nodes_per_browse": FALLBACK_NODES_PER_BROWSE,
    "nodes_per_translate": FALLBACK_NODES_PER_TRANSLATE,
    "nodes_per_write": FALLBACK_NODES_PER_WRITE,
}


@dataclass(slots=True)
class OperationLimits:
    """Caps per service call. ``server`` keeps what the server said (0 = none given)."""

    nodes_per_read: int = FALLBACK_NODES_PER_READ
    monitored_items_per_call: int = FALLBACK_MONITORED_ITEMS_PER_CALL
    nodes_per_browse: int = FALLBACK_NODES_PER_BROWSE
    nodes_per_translate: int = FALLBACK_NODES_PER_TRANSLATE
    nodes_per_write: int = FALLBACK_NODES_PER_WRITE
    server: dict[str, int] | None = None

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _LIMIT_NODES}


async def read_operation_limits(session, max_nodes_per_read: int = 0) -> OperationLimits:
    """Read the limits in one request; a configured ``max_nodes_per_read`` can only lower the cap."""
    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId(ua.Int32(i)), AttributeId=ua.AttributeIds.Value)
                          for i in _LIMIT_NODES.values()]
    params.TimestampsToReturn = ua.TimestampsToReturn.Neither
    results = await session.read(params)
    server: dict[str, int] = {}
    limits = OperationLimits(server=server)
    for name, value in zip(_LIMIT_NODES, results, strict=True):
        raw = value.Value.Value if value.StatusCode.is_good() and value.Value is not None else 0
        raw = int(raw or 0)
        server[name] = raw
        setattr(limits, name, raw if raw > 0 else _FALLBACKS[name])
    if max_nodes_per_read > 0:
        limits.nodes_per_read = min(limits.nodes_per_read, max_nodes_per_read)
    return limits
