"""The simulator's OPC UA server (asyncua), with limits that are really enforced.

Address space: ``Objects/Plant/<Area>/<Line>/<Machine>/<Variable>``, one folder
per ISA-95 level; the string node id of a variable is its dotted path below
``Plant`` (``ns=2;s=Packaging.Line1.Filler.State``). Analog variables are
AnalogItemType with EngineeringUnits (UNECE) and EURange properties.

asyncua advertises OperationLimits but never rejects a call that exceeds them;
real PLC servers do. Each external session's Read, Write, Browse and
CreateMonitoredItems are wrapped here to refuse oversized calls with
BadTooManyOperations, and to apply injected delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AttributeValue
from asyncua.server.user_managers import UserManager

from collectors.private_files import private_umask
from simulator.faults import OpcuaFaults, ignores_write
from simulator.memory import FREEZE_ABOVE_NODES, freeze_long_lived, paused_gc, unfreeze_long_lived
from simulator.opcua_nodes import NodeBuilder
from simulator.opcua_space import use_cached_standard_space
from simulator.options import SimulatorOptions
from simulator.points import Point, Value
from simulator.units import eu_information

log = logging.getLogger(__name__)

NAMESPACE_URI = "http://linebrain.dev/simulator"
APPLICATION_URI = "urn:linebrain:simulator"
ROOT = "Plant"
BAD_POWERED_OFF = ua.StatusCodes.BadNoCommunication

VARIANT_TYPES = {
    "Boolean": ua.VariantType.Boolean,
    "UInt16": ua.VariantType.UInt16,
    "Int16": ua.VariantType.Int16,
    "UInt32": ua.VariantType.UInt32,
    "Int32": ua.VariantType.Int32,
    "Float": ua.VariantType.Float,
    "Double": ua.VariantType.Double,
    "String": ua.VariantType.String,
}
_POLICIES = {
    "None": ua.SecurityPolicyType.NoSecurity,
    "Basic256Sha256_Sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
    "Basic256Sha256_SignAndEncrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}
_LIMIT_NODES = {
    "max_nodes_per_read": ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
    "max_nodes_per_write": ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite,
    "max_nodes_per_browse": ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse,
    "max_monitored_items_per_call": ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
}

OpcuaWriteHandler = Callable[[Point, Value], bool]


class _Users(UserManager):
    """User names and passwords from the options; anonymous when allowed."""

    def __init__(self, users: dict[str, str], allow_anonymous: bool) -> None:
        self.users = users
        self.allow_anonymous = allow_anonymous

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        # Only Anonymous and UserName tokens are offered, so no user name means anonymous
        # (``certificate`` is the channel's client certificate under Sign/SignAndEncrypt).
        if not username:
            return User(role=UserRole.User) if self.allow_anonymous else None
        if self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class _SilenceableTransports(list):
    """asyncua's list of client transports; new ones are paused while the server is 'silent'."""

    def __init__(self, faults: OpcuaFaults) -> None:
        super().__init__()
        self.faults = faults

    def append(self, transport: Any) -> None:
        super().append(transport)
        if self.faults.silent:
            transport.pause_reading()


class OpcuaServer:
    def __init__(
        self,
        points: list[Point],
        options: SimulatorOptions,
        faults: OpcuaFaults,
        on_write: OpcuaWriteHandler,
        extra_folders: Iterable[tuple[str, ...]] = (),
    ) -> None:
        self.points = points
        self.options = options
        self.faults = faults
        self.on_write = on_write
        self.host = options.host
        self.port = options.opcua_port or 0
        self.server: Server | None = None
        self.namespace = 2
        self._values: dict[Point, AttributeValue] = {}
        self._by_node: dict[ua.NodeId, Point] = {}
        self._extra_folders = list(extra_folders)
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self.node_count = 0
        self.rejected_calls = 0
        self._frozen = False

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        server = Server(user_manager=_Users(self.options.users, self.options.allow_anonymous))
        use_cached_standard_space(server)
        await server.init()
        server.set_server_name("LineBrain line simulator")
        await server.set_application_uri(APPLICATION_URI)
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}")
        server.set_security_policy([_POLICIES[p] for p in self.options.security])
        tokens: list[type] = [ua.UserNameIdentityToken]
        if self.options.allow_anonymous:
            tokens.insert(0, ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        if any(p != "None" for p in self.options.security):
            await self._load_certificate(server)
        self.namespace = await server.register_namespace(NAMESPACE_URI)
        await self._write_limits(server)
        self._hook_sessions(server)
        server.iserver.asyncio_transports = _SilenceableTransports(self.faults)
        with paused_gc():
            self._build_nodes(server)
            await server.start()
            if self.node_count > FREEZE_ABOVE_NODES:
                # Freeze before the collector is back on, or its first full pass walks it all.
                freeze_long_lived()
                self._frozen = True
        self.server = server
        assert server.bserver is not None  # set by start()
        self.port = server.bserver.port
        for endpoint in server.iserver.endpoints:
            endpoint.EndpointUrl = self.endpoint

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        iserver = server.iserver
        # asyncua's clock task sleeps 1 s between ticks; cancel it rather than wait for it.
        if iserver.time_task is not None:
            iserver.time_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await iserver.time_task
            iserver.time_task = None
        for transport in list(iserver.asyncio_transports):
            transport.abort()
        await server.stop()
        # Release the address space by reference counting now, not in some later full GC
        # (the server's internal reference cycles would keep it until then).
        self._values.clear()
        self._by_node.clear()
        iserver.aspace._nodes = {}
        if self._frozen:
            self._frozen = False
            unfreeze_long_lived()

    async def restart(self, downtime: float = 0.0) -> None:
        """Stop (dropping sessions and subscriptions) and start again on the same port."""
        await self.stop()
        if downtime > 0:
            await asyncio.sleep(downtime)
        await self.start()
        await self.publish(self.points)

    def close_tempdir(self) -> None:
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    async def _load_certificate(self, server: Server) -> None:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        folder = self.options.cert_dir
        if folder is None:
            if self._tempdir is None:
                self._tempdir = tempfile.TemporaryDirectory(prefix="linebrain-sim-")
            folder = Path(self._tempdir.name)
        folder.mkdir(parents=True, exist_ok=True)
        key_file, cert_file = folder / "server_key.pem", folder / "server_cert.der"
        with private_umask():  # the library writes the key with no mode of ours: 0600 from the start
            await setup_self_signed_certificate(
                key_file,
                cert_file,
                APPLICATION_URI,
                socket.gethostname(),
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                {"countryName": "DE", "organizationName": "LineBrain", "commonName": "LineBrain simulator"},
            )
        key_file.chmod(0o600)  # and a key kept from an earlier run is narrowed too
        await server.load_certificate(str(cert_file))
        await server.load_private_key(str(key_file))

    async def _write_limits(self, server: Server) -> None:
        for name, object_id in _LIMIT_NODES.items():
            value = getattr(self.options.limits, name)
            await server.write_attribute_value(
                ua.NodeId(ua.Int32(object_id)), ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
            )

    # ------------------------------------------------------------------ address space

    def node_id(self, name: str) -> ua.NodeId:
        return ua.NodeId(ua.String(name), ua.Int16(self.namespace))

    def _build_nodes(self, server: Server) -> None:
        """Add the folders and variables (in bulk, see :mod:`simulator.opcua_nodes`)."""
        builder = NodeBuilder(server.iserver.aspace, self.namespace)
        folders: dict[tuple[str, ...], ua.NodeId] = {}
        objects = ua.NodeId(ua.Int32(ua.ObjectIds.ObjectsFolder))

        def folder(path: tuple[str, ...]) -> ua.NodeId:
            if path in folders:
                return folders[path]
            parent = folder(path[:-1]) if len(path) > 1 else objects
            node_id = self.node_id(".".join(path[1:]) if len(path) > 1 else ROOT)
            builder.folder(node_id, parent, path[-1])
            folders[path] = node_id
            return node_id

        root = (ROOT,)
        for path in self._extra_folders:
            folder(root + path)
        for point in self.points:
            if not point.opcua:
                continue
            node_id = self.node_id(point.name)
            _add_variable(builder, point, node_id, folder(root + point.folder))
            self._by_node[node_id] = point
            self._values[point] = builder.nodes[node_id].attributes[ua.AttributeIds.Value]
        self.node_count = builder.count

    # ------------------------------------------------------------------ values

    async def publish(self, points: Iterable[Point]) -> None:
        """Write the current value, status and source time of ``points`` to the address space."""
        server = self.server
        if server is None:
            return
        now = cast(ua.DateTime, datetime.now(UTC))  # asyncua's type for a timestamp: a datetime subclass
        aspace = server.iserver.aspace
        for point in points:
            attribute = self._values.get(point)
            if attribute is None:
                continue
            if point.good:
                variant = ua.Variant(point.value, VARIANT_TYPES[point.opcua_type])
                value = ua.DataValue(variant, SourceTimestamp=cast(ua.DateTime, point.time) or now, ServerTimestamp=now)
            else:
                value = ua.DataValue(
                    ua.Variant(None, ua.VariantType.Null),
                    StatusCode=ua.StatusCode(ua.UInt32(BAD_POWERED_OFF)),
                    SourceTimestamp=cast(ua.DateTime, point.time) or now,
                    ServerTimestamp=now,
                )
            if attribute.datachange_callbacks:
                await aspace.write_attribute_value(self.node_id(point.name), ua.AttributeIds.Value, value)
            else:
                attribute.value = value

    async def publish_values(self, points: list[Point], values: list[ua.DataValue]) -> None:
        """Scale mode's bulk path: unmonitored values are swapped in place, monitored ones notify."""
        server = self.server
        if server is None:
            return
        aspace = server.iserver.aspace
        for index, (point, value) in enumerate(zip(points, values, strict=True)):
            attribute = self._values.get(point)
            if attribute is None:
                continue
            if attribute.datachange_callbacks:
                await aspace.write_attribute_value(self.node_id(point.name), ua.AttributeIds.Value, value)
            else:
                attribute.value = value
            if index % 5000 == 4999:
                await asyncio.sleep(0)  # let clients be served during a 50k-tag update

    # ------------------------------------------------------------------ faults

    def drop_connections(self) -> int:
        if self.server is None:
            return 0
        transports = list(self.server.iserver.asyncio_transports)
        for transport in transports:
            transport.abort()
        return len(transports)

    def set_silent(self, silent: bool) -> None:
        self.faults.silent = silent
        if self.server is None:
            return
        for transport in list(self.server.iserver.asyncio_transports):
            if silent:
                transport.pause_reading()
            else:
                transport.resume_reading()

    # ------------------------------------------------------------------ session hooks

    def _hook_sessions(self, server: Server) -> None:
        iserver = server.iserver
        create_session = iserver.create_session

        def create(name: str, user: User = User(role=UserRole.Anonymous), external: bool = False) -> Any:
            session = create_session(name, user=user, external=external)
            if external:
                self._wrap_session(session)
            return session

        iserver.create_session = create  # type: ignore[method-assign]

    def _check(self, limit_name: str, count: int) -> None:
        limit = getattr(self.options.limits, limit_name)
        if limit and count > limit:
            self.rejected_calls += 1
            raise ServiceError(ua.StatusCodes.BadTooManyOperations)

    def _wrap_session(self, session: Any) -> None:
        read, write, browse = session.read, session.write, session.browse
        create_items = session.create_monitored_items

        async def limited_read(params: ua.ReadParameters) -> list[ua.DataValue]:
            self._check("max_nodes_per_read", len(params.NodesToRead))
            if self.faults.delay:
                await asyncio.sleep(self.faults.delay)
            return await read(params)

        async def limited_browse(params: Any) -> Any:
            self._check("max_nodes_per_browse", len(params.NodesToBrowse))
            return await browse(params)

        async def limited_create_items(params: ua.CreateMonitoredItemsParameters) -> Any:
            self._check("max_monitored_items_per_call", len(params.ItemsToCreate))
            if self.faults.delay:
                await asyncio.sleep(self.faults.delay)
            return await create_items(params)

        async def checked_write(params: ua.WriteParameters) -> list[ua.StatusCode]:
            self._check("max_nodes_per_write", len(params.NodesToWrite))
            return await self._write(write, params)

        session.read = limited_read
        session.browse = limited_browse
        session.create_monitored_items = limited_create_items
        session.write = checked_write

    async def _write(self, write: Any, params: ua.WriteParameters) -> list[ua.StatusCode]:
        """Refuse setpoints outside their limits; hand accepted ones to the model."""
        results: list[ua.StatusCode | None] = [None] * len(params.NodesToWrite)
        accepted: list[int] = []
        for index, item in enumerate(params.NodesToWrite):
            point = self._by_node.get(item.NodeId) if item.AttributeId == ua.AttributeIds.Value else None
            value = item.Value.Value.Value if item.Value and item.Value.Value else None
            if point is not None and ignores_write(self.faults.ignored_writes, point.name):
                # acknowledged, not applied (fault injection)
                results[index] = ua.StatusCode(ua.UInt32(ua.StatusCodes.Good))
                continue
            if point is not None and point.writable and point.write_limits and isinstance(value, int | float):
                low, high = point.write_limits
                if not low <= value <= high:
                    results[index] = ua.StatusCode(ua.UInt32(ua.StatusCodes.BadOutOfRange))
                    continue
            accepted.append(index)
        if accepted:
            passed = ua.WriteParameters(NodesToWrite=[params.NodesToWrite[i] for i in accepted])
            for index, status in zip(accepted, await write(passed), strict=True):
                results[index] = status
                item = params.NodesToWrite[index]
                point = self._by_node.get(item.NodeId)
                if status.is_good() and point is not None and item.AttributeId == ua.AttributeIds.Value:
                    self.on_write(point, item.Value.Value.Value)
        return [r if r is not None else ua.StatusCode(ua.UInt32(ua.StatusCodes.BadInternalError)) for r in results]


def _add_variable(builder: NodeBuilder, point: Point, node_id: ua.NodeId, parent: ua.NodeId) -> None:
    analog = point.range is not None
    builder.variable(
        node_id, parent, point.browse_name, ua.Variant(point.value, VARIANT_TYPES[point.opcua_type]),
        getattr(ua.ObjectIds, point.opcua_type), point.description, point.writable,
        ua.ObjectIds.AnalogItemType if analog else ua.ObjectIds.BaseDataVariableType,
    )
    if point.range is not None:
        low, high = point.range
        builder.variable(ua.NodeId(ua.String(f"{point.name}.EURange"), node_id.NamespaceIndex), node_id, "EURange",
                         ua.Variant(ua.Range(low, high)), ua.ObjectIds.Range, property_of=True)
    if point.unit:
        builder.variable(ua.NodeId(ua.String(f"{point.name}.EngineeringUnits"), node_id.NamespaceIndex), node_id,
                         "EngineeringUnits", ua.Variant(eu_information(point.unit)), ua.ObjectIds.EUInformation,
                         property_of=True)
