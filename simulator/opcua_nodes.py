"""Bulk creation of the simulator's OPC UA nodes, straight into asyncua's address space.

asyncua's AddNodes checks every new node against all its siblings twice
(duplicate property names, duplicate references), so adding many variables
costs ~1 ms each and grows with folder size: 50,000 scale tags would take
minutes. Our nodes are known to be unique, so they are built here the way
``NodeManagementService._add_node`` stores them (same attributes, the same three
references: parent → child, child → parent, child → type definition) without
those scans, and with one shared AttributeValue per constant attribute (data
type, access level, value rank, ...): 50,000 variables in under 2 s.
"""

from __future__ import annotations

from typing import Any

from asyncua import ua
from asyncua.server.address_space import AttributeValue, NodeData

_A = ua.AttributeIds
_V = ua.VariantType
# Attributes every node gets its own AttributeValue for; the others are shared constants.
_OWN = frozenset({_A.NodeId, _A.BrowseName, _A.DisplayName, _A.Value})


def _dv(value: Any, variant_type: ua.VariantType) -> ua.DataValue:
    return ua.DataValue(ua.Variant(value, variant_type))


class NodeBuilder:
    """Adds folders, variables and properties to one server's address space."""

    def __init__(self, aspace: Any, namespace: int) -> None:
        self.nodes = aspace._nodes
        self.namespace = namespace
        self._typedefs: dict[int, ua.ReferenceDescription] = {}
        self._parents: dict[ua.NodeId, tuple[NodeData, ua.NodeId]] = {}
        self._constants: dict[tuple[Any, Any], ua.DataValue] = {}
        self._shared_attributes: dict[int, AttributeValue] = {}
        self._shared = {
            "write_mask": _dv(0, _V.UInt32),
            "false": _dv(False, _V.Boolean),
            "scalar": _dv(ua.ValueRank.Scalar, _V.Int32),
            "sampling": _dv(0.0, _V.Double),
            "event_notifier": _dv(0, _V.Byte),
            "class_object": _dv(ua.NodeClass.Object, _V.Int32),
            "class_variable": _dv(ua.NodeClass.Variable, _V.Int32),
        }
        self.count = 0

    def _typedef_ref(self, typedef: int) -> ua.ReferenceDescription:
        if typedef not in self._typedefs:
            node = self.nodes[ua.NodeId(ua.Int32(typedef))]
            self._typedefs[typedef] = ua.ReferenceDescription(
                ReferenceTypeId=ua.NodeId(ua.Int32(ua.ObjectIds.HasTypeDefinition)),
                IsForward=True,
                NodeId=ua.NodeId(ua.Int32(typedef)),
                BrowseName=node.attributes[_A.BrowseName].value.Value.Value,
                DisplayName=node.attributes[_A.DisplayName].value.Value.Value,
                NodeClass=node.attributes[_A.NodeClass].value.Value.Value,
            )
        return self._typedefs[typedef]

    def constant(self, value: Any, variant_type: ua.VariantType) -> ua.DataValue:
        """One shared DataValue per constant attribute value (DataValues are never changed in place)."""
        key = (value, variant_type)
        if key not in self._constants:
            self._constants[key] = _dv(value, variant_type)
        return self._constants[key]

    def _shared_attribute(self, value: ua.DataValue) -> AttributeValue:
        """One AttributeValue for a constant attribute across all nodes (about 10 of a variable's 15).

        Safe because clients cannot write anything but Value (asyncua refuses other
        attributes to non-admin users) and the simulator never writes them either.
        """
        key = id(value)  # the DataValue lives in this builder's caches, so its id is stable
        if key not in self._shared_attributes:
            self._shared_attributes[key] = AttributeValue(value)
        return self._shared_attributes[key]

    def _description(self, text: str) -> ua.DataValue:
        key = ("description", text)
        if key not in self._constants:
            self._constants[key] = _dv(ua.LocalizedText(text), _V.LocalizedText)
        return self._constants[key]

    def _parent(self, parent_id: ua.NodeId) -> tuple[NodeData, ua.NodeId]:
        """A parent node and its type definition (looked up once: a folder may get hundreds of children)."""
        if parent_id not in self._parents:
            parent = self.nodes[parent_id]
            typedef = next(
                (r.NodeId for r in parent.references
                 if r.IsForward and r.ReferenceTypeId == ua.NodeId(ua.Int32(ua.ObjectIds.HasTypeDefinition))),
                ua.NodeId(),
            )
            self._parents[parent_id] = (parent, typedef)
        return self._parents[parent_id]

    def _add(self, node_id: ua.NodeId, parent_id: ua.NodeId, reference: int, node_class: ua.NodeClass,
             browse_name: ua.QualifiedName, description: str, typedef: int, attributes: dict) -> NodeData:
        parent, parent_typedef = self._parent(parent_id)
        display = ua.LocalizedText(browse_name.Name)
        display_dv = _dv(display, _V.LocalizedText)
        node = NodeData(node_id)
        shared = self._shared
        values = {
            _A.NodeId: _dv(node_id, _V.NodeId),
            _A.NodeClass: shared["class_object" if node_class == ua.NodeClass.Object else "class_variable"],
            _A.BrowseName: _dv(browse_name, _V.QualifiedName),
            _A.DisplayName: display_dv,
            _A.Description: display_dv if description == browse_name.Name
            else self._description(description),
            _A.WriteMask: shared["write_mask"],
            _A.UserWriteMask: shared["write_mask"],
            **attributes,
        }
        node.attributes = {
            attribute: AttributeValue(value) if attribute in _OWN or value is display_dv
            else self._shared_attribute(value)
            for attribute, value in values.items()
        }
        reference_type = ua.NodeId(ua.Int32(reference))
        typedef_ref = self._typedef_ref(typedef)
        node.references = [
            ua.ReferenceDescription(
                ReferenceTypeId=reference_type, IsForward=False, NodeId=parent_id,
                NodeClass=_stored(parent.attributes[_A.NodeClass]),
                BrowseName=_stored(parent.attributes[_A.BrowseName]),
                DisplayName=_stored(parent.attributes[_A.DisplayName]),
                TypeDefinition=parent_typedef,
            ),
            typedef_ref,
        ]
        parent.references.append(
            ua.ReferenceDescription(
                ReferenceTypeId=reference_type, IsForward=True, NodeId=node_id, NodeClass=node_class,
                BrowseName=browse_name, DisplayName=display, TypeDefinition=typedef_ref.NodeId,
            )
        )
        self.nodes[node_id] = node
        self.count += 1
        return node

    def folder(self, node_id: ua.NodeId, parent_id: ua.NodeId, name: str) -> NodeData:
        return self._add(node_id, parent_id, ua.ObjectIds.Organizes, ua.NodeClass.Object,
                         ua.QualifiedName(name, self.namespace), name, ua.ObjectIds.FolderType,
                         {_A.EventNotifier: self._shared["event_notifier"]})

    def variable(self, node_id: ua.NodeId, parent_id: ua.NodeId, name: str, value: ua.Variant, data_type: int,
                 description: str = "", writable: bool = False, typedef: int = ua.ObjectIds.BaseDataVariableType,
                 property_of: bool = False) -> NodeData:
        access = ua.AccessLevel.CurrentRead.mask | (ua.AccessLevel.CurrentWrite.mask if writable else 0)
        access_dv = self.constant(access, _V.Byte)
        shared = self._shared
        attributes = {
            _A.Value: ua.DataValue(value),
            _A.DataType: self.constant(ua.NodeId(ua.Int32(data_type)), _V.NodeId),
            _A.ValueRank: shared["scalar"],
            _A.AccessLevel: access_dv,
            _A.UserAccessLevel: access_dv,
            _A.MinimumSamplingInterval: shared["sampling"],
            _A.Historizing: shared["false"],
        }
        reference = ua.ObjectIds.HasProperty if property_of else ua.ObjectIds.HasComponent
        browse = ua.QualifiedName(name, 0 if property_of else self.namespace)
        return self._add(node_id, parent_id, reference, ua.NodeClass.Variable, browse, description or name,
                         ua.ObjectIds.PropertyType if property_of else typedef, attributes)


def _stored(attribute: AttributeValue) -> Any:
    """The value of an attribute the address space was built with (such a value is never empty)."""
    data = attribute.value
    assert data is not None and data.Value is not None
    return data.Value.Value
