"""Secure channels, certificates and logins.

The client certificate is created once and kept (``<pki>/own/cert.der`` and
``key.pem``), with the application URI in its subject alternative name: servers
pin the certificate they trusted, so a fresh one per start would be rejected
or re-ask trust every time. Server certificates are trusted by copying them
into the trust folder; an unknown one is refused with a message naming the file
to copy (it is saved under ``<pki>/rejected/``).

Passwords may be given literally, as ``env:NAME`` or ``file:/path`` (the
config loader also expands ``${NAME}``), so secrets stay out of plant files.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import cert_gen, security_policies
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from collectors.config.models import (
    OpcuaSecurity,
    OpcuaSecurityMode,
    OpcuaSecurityPolicy,
    plaintext_password_refusal,
)
from collectors.drivers.opcua.failures import SecurityError, UntrustedServerCertificate
from collectors.private_files import private_dir, write_private

log = logging.getLogger(__name__)

POLICIES: dict[OpcuaSecurityPolicy, type[security_policies.SecurityPolicy]] = {
    OpcuaSecurityPolicy.basic256sha256: security_policies.SecurityPolicyBasic256Sha256,
    OpcuaSecurityPolicy.aes128_sha256_rsaoaep: security_policies.SecurityPolicyAes128Sha256RsaOaep,
    OpcuaSecurityPolicy.aes256_sha256_rsapss: security_policies.SecurityPolicyAes256Sha256RsaPss,
}
MODES = {
    OpcuaSecurityMode.sign: ua.MessageSecurityMode.Sign,
    OpcuaSecurityMode.sign_and_encrypt: ua.MessageSecurityMode.SignAndEncrypt,
}
CERTIFICATE_DAYS = 5 * 365


def default_pki_dir() -> Path:
    """``$LINEBRAIN_PKI_DIR``, else ``<data dir>/pki`` (the data dir: ``$LINEBRAIN_DATA_DIR`` or
    ``--data-dir``, else the user's data dir), so every process of one data dir shares its certificate
    and trust list, and a second data dir has its own."""
    if "LINEBRAIN_PKI_DIR" in os.environ:
        return Path(os.environ["LINEBRAIN_PKI_DIR"])
    from collectors.database.embedded import default_data_dir

    return default_data_dir() / "pki"


def resolve_secret(value: str | None) -> str | None:
    """A literal, ``env:NAME`` (from the environment) or ``file:/path`` (first line of a file)."""
    if value is None:
        return None
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise SecurityError(f"environment variable {name} (named by an OPC UA secret) is not set")
        return os.environ[name]
    if value.startswith("file:"):
        path = Path(value[5:]).expanduser()
        try:
            return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        except OSError as exc:
            raise SecurityError(f"cannot read OPC UA secret file {path}: {exc.strerror}") from exc
    return value


@dataclass(frozen=True)
class ClientIdentity:
    certificate: Path
    private_key: Path


def ensure_client_certificate(pki_dir: Path, application_uri: str) -> ClientIdentity:
    """The kept client certificate; generated only when missing, expired or for another URI."""
    own = pki_dir / "own"
    cert_path, key_path = own / "cert.der", own / "key.pem"
    if key_path.is_file() and cert_path.is_file() and _still_valid(cert_path, application_uri):
        return ClientIdentity(cert_path, key_path)
    private_dir(pki_dir)
    private_dir(own)
    if key_path.is_file():
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):  # OPC UA security policies sign with RSA
            raise SecurityError(f"{key_path}: not an RSA private key; delete it to have a new one made")
    else:
        key = cert_gen.generate_private_key()
        write_private(key_path, cert_gen.dump_private_key_as_pem(key))
    names = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(socket.gethostname())]
    cert = cert_gen.generate_self_signed_app_certificate(
        key, application_uri, {}, names, extended=[ExtendedKeyUsageOID.CLIENT_AUTH], days=CERTIFICATE_DAYS
    )
    cert_path.write_bytes(cert.public_bytes(Encoding.DER))
    return ClientIdentity(cert_path, key_path)


def _still_valid(cert_path: Path, application_uri: str) -> bool:
    try:
        cert = _load_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return False
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return application_uri in uris and cert.not_valid_after_utc > datetime.now(UTC)


def _load_certificate(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def thumbprint(der: bytes) -> str:
    """SHA-1 thumbprint as OPC UA tools show it (upper-case hex)."""
    return hashlib.sha1(der).hexdigest().upper()


def trusted_thumbprints(trust_dir: Path) -> set[str]:
    """Thumbprints of every certificate file (DER or PEM) in the trust folder."""
    found: set[str] = set()
    if not trust_dir.is_dir():
        return found
    for path in trust_dir.iterdir():
        if not path.is_file():
            continue
        try:
            cert = _load_certificate(path.read_bytes())
        except ValueError:
            continue
        found.add(thumbprint(cert.public_bytes(Encoding.DER)))
    return found


def check_trusted(server_der: bytes, endpoint: str, trust_dir: Path, rejected_dir: Path) -> None:
    """Raise :class:`UntrustedServerCertificate` unless the server's certificate is in ``trust_dir``."""
    print_ = thumbprint(server_der)
    if print_ in trusted_thumbprints(trust_dir):
        return
    rejected_dir.mkdir(parents=True, exist_ok=True)
    saved = rejected_dir / f"{print_}.der"
    saved.write_bytes(server_der)
    try:
        subject = _load_certificate(server_der).subject.rfc4514_string()
    except ValueError:
        subject = "?"
    raise UntrustedServerCertificate(
        f"server certificate of {endpoint} is not trusted (subject {subject}, SHA-1 thumbprint {print_}). "
        f"If this is the right server, copy {saved} into {trust_dir} and connect again."
    )


def first_certificate(der: bytes) -> bytes:
    """The leading certificate of a DER chain (servers may send their chain)."""
    length = int.from_bytes(der[2:4], "big") + 4
    return der[:length]


async def apply_security(client: Client, security: OpcuaSecurity, pki_dir: Path, endpoint: str) -> None:
    """Configure a fresh client: channel security with a trusted server, then the login."""
    client.application_uri = security.application_uri
    client.name = client.description = "LineBrain collector"
    client.product_uri = "urn:linebrain"
    refusal = plaintext_password_refusal(security)  # configs built in code skip the loader's check
    if refusal:
        raise SecurityError(f"{endpoint}: {refusal}")
    login = "certificate" if security.user_certificate else "user name" if security.username else "anonymous"
    log.info("%s: security policy %s, mode %s, %s login", endpoint, security.policy.value, security.mode.value, login)
    if security.password is not None and security.policy is OpcuaSecurityPolicy.none:
        log.warning("%s: the password is sent on an unsigned channel (allow_plaintext_password: true)", endpoint)
    if security.policy is not OpcuaSecurityPolicy.none:
        await _secure_channel(client, security, pki_dir, endpoint)
    if security.username:
        client.set_user(resolve_secret(security.username) or "")
        password = resolve_secret(security.password)
        if password is not None:
            client.set_password(password)
    if security.user_certificate:
        if not security.user_private_key:
            raise SecurityError("user_certificate needs user_private_key for certificate login")
        await client.load_client_certificate(security.user_certificate)
        await client.load_private_key(Path(security.user_private_key))


async def _secure_channel(client: Client, security: OpcuaSecurity, pki_dir: Path, endpoint: str) -> None:
    policy = POLICIES[security.policy]
    mode = MODES[security.mode]
    if security.certificate and security.private_key:
        identity = ClientIdentity(Path(security.certificate), Path(security.private_key))
    else:
        identity = ensure_client_certificate(pki_dir, security.application_uri)
    endpoints = await client.connect_and_get_server_endpoints()
    chosen = [ep for ep in endpoints if ep.SecurityMode == mode and ep.SecurityPolicyUri == policy.URI]
    if not chosen:
        offered = sorted({f"{ep.SecurityPolicyUri.rsplit('#', 1)[-1]}/{ep.SecurityMode.name}" for ep in endpoints})
        raise SecurityError(
            f"{endpoint} offers no endpoint with {security.policy.value}/{security.mode.value} "
            f"(offered: {', '.join(offered)})"
        )
    server_der = first_certificate(chosen[0].ServerCertificate)
    trust_dir = Path(security.trust_dir) if security.trust_dir else pki_dir / "trusted"
    check_trusted(server_der, endpoint, trust_dir, pki_dir / "rejected")
    await client.set_security(
        policy, identity.certificate, identity.private_key, server_certificate=server_der, mode=mode
    )


async def fetch_server_certificate(endpoint: str, timeout: float = 4.0) -> bytes:
    """The server's application certificate as it announces it (to review and trust)."""
    client = Client(endpoint, timeout=timeout)
    endpoints = await client.connect_and_get_server_endpoints()
    for ep in endpoints:
        if ep.ServerCertificate:
            return first_certificate(ep.ServerCertificate)
    raise SecurityError(f"{endpoint} announces no server certificate")
