"""OperationLimits are advertised and enforced; security policies and user names work."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from simulator import OperationLimits, Simulator, SimulatorOptions
from tests.simulator.helpers import MONDAY_0700_UTC

LIMITS = ua.ObjectIds
NAMES = [f"ns=2;s=Packaging.Line1.{m}.{v}" for m in ("Filler", "Capper", "Labeller") for v in
         ("State", "FaultCode", "GoodCount", "RejectCount")]


def read_params(node_ids: list[str]) -> ua.ReadParameters:
    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId.from_string(n), AttributeId=ua.AttributeIds.Value)
                          for n in node_ids]
    return params


async def test_reads_and_monitored_items_over_the_limit_get_bad_too_many_operations() -> None:
    limits = OperationLimits(max_nodes_per_read=10, max_monitored_items_per_call=5)
    options = SimulatorOptions(speed=0, start=MONDAY_0700_UTC, limits=limits)
    async with Simulator(options) as sim, Client(sim.opcua_endpoint, timeout=5) as client:
        per_read = client.get_node(LIMITS.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
        per_call = client.get_node(LIMITS.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall)
        assert await per_read.read_value() == 10
        assert await per_call.read_value() == 5

        assert len(await client.uaclient.read(read_params(NAMES[:10]))) == 10
        with pytest.raises(ua.UaStatusCodeError) as refused:
            await client.uaclient.read(read_params(NAMES[:11]))
        assert refused.value.code == ua.StatusCodes.BadTooManyOperations

        subscription = await client.create_subscription(100, None)
        nodes = [client.get_node(n) for n in NAMES]
        handles = await subscription.subscribe_data_change(nodes[:5])
        assert len(handles) == 5
        with pytest.raises(ua.UaStatusCodeError) as too_many:
            await subscription.subscribe_data_change(nodes[5:11])
        assert too_many.value.code == ua.StatusCodes.BadTooManyOperations
        assert sim.opcua.rejected_calls == 2
        await subscription.delete()


async def test_basic256sha256_with_user_name_and_password(tmp_path: Path) -> None:
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key, cert = tmp_path / "client_key.pem", tmp_path / "client_cert.der"
    await setup_self_signed_certificate(key, cert, "urn:linebrain:test-client", socket.gethostname(),
                                        [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "test client"})
    options = SimulatorOptions(
        speed=0, start=MONDAY_0700_UTC, security=("Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt"),
        users={"operator": "s3cret"}, allow_anonymous=False, cert_dir=tmp_path / "server",
    )
    async with Simulator(options) as sim:
        assert (tmp_path / "server" / "server_cert.der").exists()
        for mode in (ua.MessageSecurityMode.SignAndEncrypt, ua.MessageSecurityMode.Sign):
            client = Client(sim.opcua_endpoint, timeout=5)
            client.application_uri = "urn:linebrain:test-client"
            await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode)
            client.set_user("operator")
            client.set_password("s3cret")
            async with client:
                assert await client.get_node("ns=2;s=Packaging.Line1.Filler.State").read_value() > 0

        wrong = Client(sim.opcua_endpoint, timeout=5)
        wrong.application_uri = "urn:linebrain:test-client"
        await wrong.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                                 mode=ua.MessageSecurityMode.SignAndEncrypt)
        wrong.set_user("operator")
        wrong.set_password("guess")
        with pytest.raises(ua.UaStatusCodeError) as denied:
            await wrong.connect()
        assert denied.value.code in (ua.StatusCodes.BadUserAccessDenied, ua.StatusCodes.BadIdentityTokenRejected)
        wrong.disconnect_socket()

        plain = Client(sim.opcua_endpoint, timeout=5)
        with pytest.raises(Exception):  # noqa: B017 - no None endpoint: the channel or session is refused
            await plain.connect()
        plain.disconnect_socket()
