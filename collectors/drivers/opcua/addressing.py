"""Turn the node ids and browse paths of a plant config into server NodeIds.

Namespace indexes are the server's to choose and may change after a server
update or restart, so ``nsu=<uri>;…`` ids are resolved through the namespace
array at every connect, never cached across sessions. Browse paths are
resolved with TranslateBrowsePathsToNodeIds, many per call.

A tag whose node cannot be resolved is not an error for the connection: it gets
a status (``BadNodeIdUnknown`` and friends) and the other tags carry on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asyncua import ua

from collectors.samples import BAD_NODE_ID_UNKNOWN

_NSU = re.compile(r"^nsu=([^;]+);(.+)$")
BAD_BROWSE_NAME_INVALID = 0x80600000
BAD_NO_MATCH = 0x806F0000


@dataclass(frozen=True, slots=True)
class Resolved:
    """A tag's node on this session, or the status saying why there is none."""

    node_id: ua.NodeId | None
    status: int = 0


def standard_node(identifier: int) -> ua.NodeId:
    """A namespace-0 node by its numeric id (asyncua types the identifier as its own Int32)."""
    return ua.NodeId(ua.Int32(identifier))


def forward_step(reference: int, name: ua.QualifiedName) -> ua.RelativePathElement:
    """One browse-path step along ``reference`` or a subtype of it to ``name``."""
    return ua.RelativePathElement(
        ReferenceTypeId=standard_node(reference),
        IsInverse=False,  # type: ignore[arg-type]  # asyncua declares its Boolean marker class, takes a bool
        IncludeSubtypes=True,  # type: ignore[arg-type]
        TargetName=name,
    )


def parse_node_id(text: str, namespaces: list[str]) -> Resolved:
    """``ns=2;s=A``, ``nsu=urn:x;s=A`` or ``i=85`` → a NodeId for this session's namespace array."""
    match = _NSU.match(text)
    if match:
        uri, rest = match.groups()
        try:
            index = namespaces.index(uri)
        except ValueError:
            return Resolved(None, BAD_NODE_ID_UNKNOWN)
        text = f"ns={index};{rest}"
    try:
        return Resolved(ua.NodeId.from_string(text))
    except (ua.UaStringParsingError, ValueError):
        return Resolved(None, BAD_NODE_ID_UNKNOWN)


def parse_browse_path(path: str) -> list[ua.QualifiedName]:
    """``Objects/2:Line1/2:Oven/2:Temperature`` → qualified names below the Objects folder.

    Each element is ``<namespace index>:<browse name>``; an element without an
    index is in namespace 0. A leading ``Objects`` (or ``0:Objects``) is optional.
    """
    parts = [part for part in path.strip("/").split("/") if part]
    if parts and parts[0] in ("Objects", "0:Objects"):
        parts = parts[1:]
    return [ua.QualifiedName.from_string(part) for part in parts]


def browse_path_request(path: str) -> ua.BrowsePath | None:
    """The TranslateBrowsePaths request element for a config browse path (None when malformed)."""
    try:
        names = parse_browse_path(path)
    except ua.UaStringParsingError:
        return None
    if not names:
        return None
    elements = [forward_step(ua.ObjectIds.HierarchicalReferences, name) for name in names]
    return ua.BrowsePath(
        StartingNode=standard_node(ua.ObjectIds.ObjectsFolder), RelativePath=ua.RelativePath(Elements=elements)
    )


def resolved_from_path_result(result: ua.BrowsePathResult) -> Resolved:
    """The first target of a TranslateBrowsePaths result, or its status."""
    status = result.StatusCode.value
    if status >> 30 != 0 or not result.Targets:
        return Resolved(None, status if status >> 30 != 0 else BAD_NO_MATCH)
    target = result.Targets[0].TargetId
    return Resolved(ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType))


async def read_namespace_array(session) -> list[str]:
    """The server's namespace URIs, index = namespace index (read fresh at every connect)."""
    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(NodeId=standard_node(ua.ObjectIds.Server_NamespaceArray),
                                         AttributeId=ua.AttributeIds.Value)]
    result = (await session.read(params))[0]
    result.StatusCode.check()
    return list(result.Value.Value or [])


async def resolve_addresses(session, addresses: list[str], namespaces: list[str], per_call: int) -> list[Resolved]:
    """Node ids for config addresses (node ids, or ``path:`` browse paths translated in batches)."""
    resolved: list[Resolved | None] = [None] * len(addresses)
    paths: list[tuple[int, ua.BrowsePath]] = []
    for index, address in enumerate(addresses):
        if address.startswith("path:"):
            request = browse_path_request(address[5:])
            if request is None:
                resolved[index] = Resolved(None, BAD_BROWSE_NAME_INVALID)
            else:
                paths.append((index, request))
        else:
            resolved[index] = parse_node_id(address, namespaces)
    for start in range(0, len(paths), max(1, per_call)):
        chunk = paths[start:start + per_call]
        results = await session.translate_browsepaths_to_nodeids([request for _, request in chunk])
        for (index, _), result in zip(chunk, results, strict=True):
            resolved[index] = resolved_from_path_result(result)
    return [item if item is not None else Resolved(None, BAD_NODE_ID_UNKNOWN) for item in resolved]


async def have_eu_range(session, node_ids: list[ua.NodeId], per_call: int) -> list[bool]:
    """Whether each node has an EURange property: a percent deadband is defined only against it."""
    found: list[bool] = []
    for start in range(0, len(node_ids), max(1, per_call)):
        chunk = node_ids[start:start + per_call]
        requests = [
            ua.BrowsePath(
                StartingNode=node_id,
                RelativePath=ua.RelativePath(Elements=[
                    forward_step(ua.ObjectIds.HasProperty, ua.QualifiedName("EURange", 0))]),
            )
            for node_id in chunk
        ]
        results = await session.translate_browsepaths_to_nodeids(requests)
        found.extend(result.StatusCode.is_good() and bool(result.Targets) for result in results)
    return found
