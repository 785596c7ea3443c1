"""The one function that writes a value to an OPC UA node.

Servers refuse a Write whose Variant type differs from the variable's DataType
(BadTypeMismatch), and many refuse source timestamps in a Write, so the value
is sent as a bare Variant of the node's built-in type, read once and cached.
No limit check, read-back or log happens here: that is for a caller to add.
"""

from __future__ import annotations

from typing import Any

from asyncua import ua

from collectors.errors import BadAddress, DeviceError

S = ua.StatusCodes
_ADDRESS_ERRORS = {S.BadNodeIdUnknown, S.BadNodeIdInvalid, S.BadNotWritable, S.BadUserAccessDenied,
                   S.BadWriteNotSupported, S.BadTypeMismatch, S.BadOutOfRange, S.BadAttributeIdInvalid}
_INTEGERS = {ua.VariantType.SByte, ua.VariantType.Byte, ua.VariantType.Int16, ua.VariantType.UInt16,
             ua.VariantType.Int32, ua.VariantType.UInt32, ua.VariantType.Int64, ua.VariantType.UInt64}


async def variant_type_of(session, node_id: ua.NodeId) -> ua.VariantType:
    """The built-in type of a variable, from its DataType attribute (subtypes of built-ins: Variant)."""
    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(NodeId=node_id, AttributeId=ua.AttributeIds.DataType)]
    result = (await session.read(params))[0]
    if not result.StatusCode.is_good():
        raise BadAddress(f"{node_id.to_string()}: cannot read its data type ({result.StatusCode.name})")
    data_type: ua.NodeId = result.Value.Value
    if data_type.NamespaceIndex == 0 and isinstance(data_type.Identifier, int) and data_type.Identifier <= 25:
        return ua.VariantType(data_type.Identifier)
    if data_type.NamespaceIndex == 0 and data_type.Identifier == ua.ObjectIds.Enumeration:
        return ua.VariantType.Int32
    return ua.VariantType.Variant


def _coerce(value: Any, variant_type: ua.VariantType) -> Any:
    if variant_type in _INTEGERS:
        if isinstance(value, float) and not value.is_integer():
            raise BadAddress(f"{value} is not a whole number for a {variant_type.name} variable")
        return int(value)
    if variant_type in (ua.VariantType.Float, ua.VariantType.Double):
        return float(value)
    if variant_type is ua.VariantType.Boolean:
        return bool(value)
    if variant_type is ua.VariantType.String:
        return str(value)
    return value


async def write_value(
    session, node_id: ua.NodeId, value: Any, type_cache: dict[str, ua.VariantType], label: str
) -> None:
    """Write ``value`` to ``node_id`` as the node's own type. Raises BadAddress or DeviceError."""
    key = node_id.to_string()
    variant_type = type_cache.get(key)
    if variant_type is None:
        variant_type = type_cache[key] = await variant_type_of(session, node_id)
    # No type for a Variant-typed node: asyncua then picks it from the value (its stub wants one always).
    as_type = None if variant_type is ua.VariantType.Variant else variant_type
    variant = ua.Variant(_coerce(value, variant_type), as_type)  # type: ignore[arg-type]
    params = ua.WriteParameters()
    params.NodesToWrite = [ua.WriteValue(NodeId=node_id, AttributeId=ua.AttributeIds.Value,
                                         Value=ua.DataValue(Value=variant, StatusCode=None))]
    status = (await session.write(params))[0]
    if status.is_good():
        return
    message = f"write to {label} refused: {status.name}"
    raise BadAddress(message) if status.value in _ADDRESS_ERRORS else DeviceError(message)
