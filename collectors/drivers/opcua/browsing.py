"""Discovery: walk a server's address space and describe its variables.

Browsing one node per call takes hours on a large server, so the walk goes
level by level and asks about many nodes per Browse call (up to the server's
MaxNodesPerBrowse), following continuation points with BrowseNext, again for
many nodes at once. Data types and engineering units are then read in bulk.

Node ids are reported in the ``nsu=<uri>;…`` form, so a config written from a
browse survives the server renumbering its namespaces.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml
from asyncua import ua

from collectors.drivers.opcua.addressing import forward_step, read_namespace_array, standard_node
from collectors.drivers.opcua.limits import OperationLimits, read_operation_limits
from collectors.drivers.opcua.reading import ChunkedReader

MAX_REFERENCES_PER_NODE = 1000
_NODE_CLASSES = int(ua.NodeClass.Object) | int(ua.NodeClass.Variable)


@dataclass(slots=True)
class BrowsedVariable:
    node_id: str  # nsu=<uri>;<id>
    path: str  # display path, "Line1/Oven/Temperature"
    browse_path: str  # "2:Line1/2:Oven/2:Temperature"
    data_type: str = ""
    unit: str = ""


@dataclass(slots=True)
class _Found:
    node_id: ua.NodeId
    path: list[str]
    browse_path: list[str]


async def browse(session, *, depth: int = 10, pattern: str | None = None, limits: OperationLimits | None = None,
                 start: ua.NodeId | None = None) -> list[BrowsedVariable]:
    """Every variable below ``start`` (the Objects folder) down to ``depth`` levels, skipping
    namespace 0 (the server's own diagnostics), filtered by a glob on the path or name."""
    limits = limits or await read_operation_limits(session)
    namespaces = await read_namespace_array(session)
    frontier = [_Found(start or standard_node(ua.ObjectIds.ObjectsFolder), [], [])]
    seen = {frontier[0].node_id.to_string()}
    variables: list[_Found] = []
    for _level in range(depth):
        if not frontier:
            break
        children = await _browse_level(session, frontier, limits.nodes_per_browse)
        frontier = []
        for parent, ref in children:
            target = ref.NodeId
            if target.NamespaceIndex == 0 or getattr(target, "ServerIndex", 0):
                continue
            node_id = ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType)
            key = node_id.to_string()
            if key in seen:
                continue
            seen.add(key)
            name = ref.BrowseName
            found = _Found(node_id, [*parent.path, ref.DisplayName.Text or name.Name],
                           [*parent.browse_path, f"{name.NamespaceIndex}:{name.Name}"])
            if ref.NodeClass == ua.NodeClass.Variable:
                if _matches(found, pattern):
                    variables.append(found)
            else:
                frontier.append(found)
    types, units = await _describe(session, [found.node_id for found in variables], limits)
    return [
        BrowsedVariable(_nsu(found.node_id, namespaces), "/".join(found.path), "/".join(found.browse_path),
                        data_type, unit)
        for found, data_type, unit in zip(variables, types, units, strict=True)
    ]


def _matches(found: _Found, pattern: str | None) -> bool:
    if not pattern:
        return True
    return fnmatch.fnmatchcase("/".join(found.path), pattern) or fnmatch.fnmatchcase(found.path[-1], pattern)


async def _browse_level(session, parents: list[_Found], per_call: int) -> list[tuple[_Found, ua.ReferenceDescription]]:
    """Children of many parents: Browse in batches, then BrowseNext for every continuation point."""
    found: list[tuple[_Found, ua.ReferenceDescription]] = []
    for start in range(0, len(parents), max(1, per_call)):
        batch = parents[start:start + per_call]
        params = ua.BrowseParameters()
        params.RequestedMaxReferencesPerNode = MAX_REFERENCES_PER_NODE
        params.NodesToBrowse = [
            ua.BrowseDescription(
                NodeId=parent.node_id, BrowseDirection=ua.BrowseDirection.Forward,
                ReferenceTypeId=standard_node(ua.ObjectIds.HierarchicalReferences), IncludeSubtypes=True,
                NodeClassMask=_NODE_CLASSES, ResultMask=int(ua.BrowseResultMask.All),
            )
            for parent in batch
        ]
        results = await session.browse(params)
        pending: list[tuple[_Found, bytes]] = []
        for parent, result in zip(batch, results, strict=True):
            found.extend((parent, ref) for ref in _children(result))
            if result.ContinuationPoint:
                pending.append((parent, result.ContinuationPoint))
        while pending:
            next_params = ua.BrowseNextParameters(ReleaseContinuationPoints=False,
                                                  ContinuationPoints=[point for _, point in pending])
            results = await session.browse_next(next_params)
            still = []
            for (parent, _), result in zip(pending, results, strict=True):
                found.extend((parent, ref) for ref in _children(result))
                if result.ContinuationPoint:
                    still.append((parent, result.ContinuationPoint))
            pending = still
    return found


def _children(result: ua.BrowseResult) -> list[ua.ReferenceDescription]:
    if not result.StatusCode.is_good():
        return []
    has_property = standard_node(ua.ObjectIds.HasProperty)
    return [ref for ref in result.References or [] if ref.ReferenceTypeId != has_property]


async def _describe(session, node_ids: list[ua.NodeId], limits: OperationLimits) -> tuple[list[str], list[str]]:
    """Data type names and engineering units of many variables, in bulk requests."""
    if not node_ids:
        return [], []
    reader = ChunkedReader(session, limits.nodes_per_read, 4)
    type_values = await _read_attribute(session, node_ids, ua.AttributeIds.DataType, limits.nodes_per_read)
    type_ids = [_good_value(value) for value in type_values]
    custom = sorted({t.to_string() for t in type_ids if t is not None and not _builtin_name(t)})
    custom_names: dict[str, str] = {}
    if custom:
        names = await _read_attribute(session, [ua.NodeId.from_string(c) for c in custom],
                                      ua.AttributeIds.BrowseName, limits.nodes_per_read)
        custom_names = {
            c: (name.Name if (name := _good_value(v)) is not None else c) for c, v in zip(custom, names, strict=True)
        }
    types = [(_builtin_name(t) or custom_names.get(t.to_string(), "")) if t is not None else "" for t in type_ids]
    unit_nodes = await _properties(session, node_ids, "EngineeringUnits", limits.nodes_per_translate)
    present = [node for node in unit_nodes if node is not None]
    unit_values = iter(await reader.read(present))
    units = []
    for node in unit_nodes:
        if node is None:
            units.append("")
            continue
        value = next(unit_values)
        info = _good_value(value)
        units.append(info.DisplayName.Text or "" if isinstance(info, ua.EUInformation) else "")
    return types, units


def _builtin_name(type_id: ua.NodeId) -> str:
    if type_id.NamespaceIndex == 0 and isinstance(type_id.Identifier, int) and 1 <= type_id.Identifier <= 25:
        return ua.VariantType(type_id.Identifier).name
    if type_id.NamespaceIndex == 0 and isinstance(type_id.Identifier, int):
        return ua.ObjectIdNames.get(type_id.Identifier, "")
    return ""


async def _read_attribute(session, node_ids: list[ua.NodeId], attribute: ua.AttributeIds,
                          per_call: int) -> list[ua.DataValue]:
    values: list[ua.DataValue] = []
    for start in range(0, len(node_ids), max(1, per_call)):
        params = ua.ReadParameters()
        params.NodesToRead = [ua.ReadValueId(NodeId=n, AttributeId=attribute) for n in node_ids[start:start + per_call]]
        values.extend(await session.read(params))
    return values


async def _properties(session, node_ids: list[ua.NodeId], name: str, per_call: int) -> list[ua.NodeId | None]:
    found: list[ua.NodeId | None] = []
    for start in range(0, len(node_ids), max(1, per_call)):
        requests = [
            ua.BrowsePath(StartingNode=node_id, RelativePath=ua.RelativePath(Elements=[
                forward_step(ua.ObjectIds.HasProperty, ua.QualifiedName(name, 0))]))
            for node_id in node_ids[start:start + per_call]
        ]
        for result in await session.translate_browsepaths_to_nodeids(requests):
            if result.StatusCode.is_good() and result.Targets:
                target = result.Targets[0].TargetId
                found.append(ua.NodeId(target.Identifier, target.NamespaceIndex, target.NodeIdType))
            else:
                found.append(None)
    return found


def _nsu(node_id: ua.NodeId, namespaces: list[str]) -> str:
    text = node_id.to_string()
    index = node_id.NamespaceIndex
    if 0 < index < len(namespaces):
        return f"nsu={namespaces[index]};" + text.split(";", 1)[1]
    return text


_NOT_IDENT = re.compile(r"[^A-Za-z0-9_.\-]+")


def tag_name(path: str, taken: set[str]) -> str:
    """A valid, unique tag name from a display path (``Line1/Oven/Temperature`` → ``Line1.Oven.Temperature``)."""
    name = _NOT_IDENT.sub("_", path.replace("/", ".")).strip("._-") or "tag"
    if not name[0].isalpha():
        name = f"t_{name}"
    if len(name) > 63:
        digest = hashlib.sha1(path.encode()).hexdigest()[:8]
        name = f"{name[:54]}_{digest}"
    base, counter = name, 2
    while name in taken:
        suffix = f"_{counter}"
        name = base[: 63 - len(suffix)] + suffix
        counter += 1
    taken.add(name)
    return name


def config_from_variables(variables: list[BrowsedVariable], endpoint: str, *, connection_id: str = "opcua1",
                          mode: str = "poll", site: str = "Discovered plant",
                          security: dict[str, Any] | None = None) -> str:
    """A plant config YAML (accepted by ``linebrain check``) that collects the browsed variables."""
    connection: dict[str, Any] = {"id": connection_id, "protocol": "opcua", "endpoint": endpoint}
    if security:
        connection["security"] = security
    taken: set[str] = set()
    tags = []
    for variable in variables:
        tag: dict[str, Any] = {"name": tag_name(variable.path, taken), "connection": connection_id,
                               "node_id": variable.node_id}
        if mode != "poll":
            tag["mode"] = mode
        if variable.unit:
            tag["unit"] = variable.unit
        if variable.data_type:
            tag["description"] = f"{variable.path} ({variable.data_type})"
        tags.append(tag)
    document = {"site": {"name": site}, "connections": [connection], "tags": tags}
    header = f"# Written by `linebrain browse {endpoint}`: {len(tags)} variables.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=200)


def _good_value(value: ua.DataValue) -> Any:
    """The value of a good DataValue (an absent status code is Good), else None."""
    good = value.StatusCode is None or value.StatusCode.is_good()
    return value.Value.Value if good and value.Value is not None else None
