"""Small asyncua servers for the driver tests that need a server shape the line
simulator does not offer (a variable appearing later, a server certificate of our own)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from asyncua import Server, ua

from simulator.opcua_space import use_cached_standard_space

NAMESPACE = "urn:linebrain:test"


@dataclass
class PlainServer:
    """An asyncua server with ``count`` Double variables ``Line1/V<i>`` (node ids ``s=Line1.V<i>``)."""

    count: int = 20
    port: int = 0
    server: Server | None = None
    index: int = 0
    variables: list = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/"

    async def start(self, **security) -> PlainServer:
        server = Server()
        use_cached_standard_space(server)  # the simulator's trick: copy the standard nodes, don't rebuild them
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{self.port}/")
        if security:
            await _secure(server, **security)
        self.index = await server.register_namespace(NAMESPACE)
        line = await server.nodes.objects.add_folder(ua.NodeId("Line1", self.index), f"{self.index}:Line1")
        self.variables = []
        for i in range(self.count):
            node = await line.add_variable(ua.NodeId(f"Line1.V{i}", self.index), f"{self.index}:V{i}", float(i))
            await node.set_writable()
            self.variables.append(node)
        await server.start()
        self.port = server.bserver.port
        self.server = server
        return self

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        # asyncua's clock task sleeps 1 s between ticks: cancel it instead of waiting (as the simulator does).
        task, server.iserver.time_task = server.iserver.time_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await server.stop()

    def session_count(self) -> int:
        assert self.server is not None
        return len(self.server.iserver._external_sessions)


async def _secure(server: Server, *, certificate, private_key, users: dict[str, str],
                  user_certificates: tuple[bytes, ...] = ()) -> None:
    from asyncua.crypto.permission_rules import SimpleRoleRuleset, User, UserRole
    from asyncua.server.user_managers import UserManager

    class Users(UserManager):
        def get_user(self, iserver, username=None, password=None, certificate=None):
            if username is not None and users.get(username) == password:
                return User(role=UserRole.User, name=username)
            if username is None and certificate is not None and _der(certificate) in user_certificates:
                return User(role=UserRole.User, name="certificate user")
            return None

    server.iserver.set_user_manager(Users())
    server.set_security_policy(
        [
            ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ua.SecurityPolicyType.Basic256Sha256_Sign,
            ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
            ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
        ],
        permission_ruleset=SimpleRoleRuleset(),
    )
    server.set_identity_tokens([ua.UserNameIdentityToken, ua.X509IdentityToken])
    await server.load_certificate(str(certificate))
    await server.load_private_key(str(private_key))


def make_server_certificate(folder, application_uri: str = "urn:freeopcua:python:server"):
    """A self-signed server certificate and key (DER, PEM) in ``folder``."""
    import socket

    from asyncua.crypto import cert_gen
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    folder.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    names = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(socket.gethostname())]
    cert = cert_gen.generate_self_signed_app_certificate(
        key, application_uri, {}, names, extended=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    (folder / "server.der").write_bytes(cert.public_bytes(Encoding.DER))
    (folder / "server.pem").write_bytes(cert_gen.dump_private_key_as_pem(key))
    return folder / "server.der", folder / "server.pem"


def _der(certificate) -> bytes:
    if isinstance(certificate, bytes):
        return certificate
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.DER)
