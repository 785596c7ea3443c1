"""Secure channels: policies, user name login, the kept client certificate, trust of the server."""

from __future__ import annotations

import shutil

import pytest

from collectors.config.models import OpcuaConnection, OpcuaSecurity, Tag
from collectors.drivers.opcua import OpcuaDriver, SecurityError, UntrustedServerCertificate, fetch_server_certificate
from collectors.drivers.opcua.security import thumbprint
from tests.collectors.drivers.opcua.servers import PlainServer, make_server_certificate

USERS = {"operator": "s3cret"}


@pytest.fixture
async def secure_server(tmp_path):
    certificate, key = make_server_certificate(tmp_path / "server-pki")
    user_certificate, _ = make_server_certificate(tmp_path / "user", "urn:linebrain:operator")
    server = await PlainServer(count=3).start(certificate=certificate, private_key=key, users=USERS,
                                              user_certificates=(user_certificate.read_bytes(),))
    yield server
    await server.stop()


def secure_connection(endpoint: str, trust_dir, policy="Basic256Sha256", mode="SignAndEncrypt",
                      password="env:TEST_OPCUA_PASSWORD") -> OpcuaConnection:
    security = OpcuaSecurity(policy=policy, mode=mode, username="operator", password=password,
                             trust_dir=str(trust_dir))
    return OpcuaConnection(id="secure", protocol="opcua", endpoint=endpoint, security=security)


async def test_policies_with_user_name_login_after_the_server_is_trusted(secure_server, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OPCUA_PASSWORD", USERS["operator"])
    pki, trust = tmp_path / "pki", tmp_path / "trusted"
    trust.mkdir()
    (trust / "server.der").write_bytes(await fetch_server_certificate(secure_server.endpoint))
    tags = [Tag(name="v1", connection="secure", node_id=f"ns={secure_server.index};s=Line1.V1")]
    kept = None
    for policy, mode in [("Basic256Sha256", "SignAndEncrypt"), ("Basic256Sha256", "Sign"),
                         ("Aes128_Sha256_RsaOaep", "SignAndEncrypt"), ("Aes256_Sha256_RsaPss", "SignAndEncrypt")]:
        driver = OpcuaDriver(secure_connection(secure_server.endpoint, trust, policy, mode), tags, pki_dir=pki)
        await driver.connect()
        try:
            (sample,) = await driver.read_group("default")
        finally:
            await driver.close()
        assert sample.value == 1.0, policy
        certificate = (pki / "own" / "cert.der").read_bytes()
        assert kept is None or certificate == kept, "the client certificate must be created once and kept"
        kept = certificate


async def test_an_untrusted_server_certificate_is_refused_with_a_clear_error(secure_server, tmp_path):
    pki, trust = tmp_path / "pki", tmp_path / "trusted"
    tags = [Tag(name="v1", connection="secure", node_id=f"ns={secure_server.index};s=Line1.V1")]
    driver = OpcuaDriver(secure_connection(secure_server.endpoint, trust, password=USERS["operator"]), tags,
                         pki_dir=pki)
    with pytest.raises(UntrustedServerCertificate) as refused:
        await driver.connect()
    await driver.close()
    der = await fetch_server_certificate(secure_server.endpoint)
    message = str(refused.value)
    assert "not trusted" in message and thumbprint(der) in message and str(trust) in message
    assert secure_server.session_count() == 0
    # The operator's fix, as the message says: copy the rejected certificate into the trust folder.
    trust.mkdir()
    shutil.copy(pki / "rejected" / f"{thumbprint(der)}.der", trust)
    await driver.connect()
    try:
        assert (await driver.read_group("default"))[0].value == 1.0
    finally:
        await driver.close()


async def test_a_wrong_password_is_a_security_error(secure_server, tmp_path):
    pki, trust = tmp_path / "pki", tmp_path / "trusted"
    trust.mkdir()
    (trust / "server.der").write_bytes(await fetch_server_certificate(secure_server.endpoint))
    secret = tmp_path / "password.txt"
    secret.write_text("wrong\n")
    tags = [Tag(name="v1", connection="secure", node_id=f"ns={secure_server.index};s=Line1.V1")]
    driver = OpcuaDriver(secure_connection(secure_server.endpoint, trust, password=f"file:{secret}"), tags,
                         pki_dir=pki)
    with pytest.raises(SecurityError):
        await driver.connect()
    await driver.close()
    assert secure_server.session_count() == 0


async def test_certificate_login(secure_server, tmp_path):
    pki, trust = tmp_path / "pki", tmp_path / "trusted"
    trust.mkdir()
    (trust / "server.der").write_bytes(await fetch_server_certificate(secure_server.endpoint))
    security = OpcuaSecurity(policy="Basic256Sha256", mode="SignAndEncrypt", trust_dir=str(trust),
                             user_certificate=str(tmp_path / "user" / "server.der"),
                             user_private_key=str(tmp_path / "user" / "server.pem"))
    connection = OpcuaConnection(id="secure", protocol="opcua", endpoint=secure_server.endpoint, security=security)
    tags = [Tag(name="v2", connection="secure", node_id=f"ns={secure_server.index};s=Line1.V2")]
    driver = OpcuaDriver(connection, tags, pki_dir=pki)
    await driver.connect()
    try:
        (sample,) = await driver.read_group("default")
    finally:
        await driver.close()
    assert sample.value == 2.0
