"""deploy/nginx/linebrain.conf in front of ``linebrain serve`` (web.behind_proxy): TLS at nginx,
Secure cookies, and client addresses taken from nginx's X-Forwarded-For — which nginx sets itself,
so a client cannot plant one; and only a trusted proxy's header counts."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mes.production import derive
from tests.conftest import REPO, free_port
from tests.mes.auth.helpers import add_user, bearer, sign_in
from tests.mes.auth.server import linebrain_serve
from tests.mes.production.scenario import local, plant

CLIENT_ADDRESS = "127.0.0.3"  # the "browser": a loopback address other than the proxy's


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    return cert_path, key_path


@contextlib.contextmanager
def nginx(folder: Path, upstream_port: int, http_port: int, https_port: int) -> Iterator[None]:
    """Run nginx with the server blocks of deploy/nginx/linebrain.conf (ports, host name and
    certificate put in) until the block ends."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    cert, key = self_signed(folder)
    site = (REPO / "deploy" / "nginx" / "linebrain.conf").read_text()
    site = (site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
            .replace("mes.plant.example", "localhost")
            .replace("/etc/linebrain/tls/localhost.crt", str(cert))
            .replace("/etc/linebrain/tls/localhost.key", str(key))
            .replace("http://127.0.0.1:8080", f"http://127.0.0.1:{upstream_port}"))  # fmt: skip
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "".join(f"{kind}_temp_path {folder / kind};\n" for kind in kinds)
    config = folder / "nginx.conf"
    config.write_text(("user root;\n" if os.getuid() == 0 else "") + f"""
daemon off; worker_processes 1; pid {folder / "nginx.pid"}; error_log {folder / "nginx-error.log"};
events {{}}
http {{ access_log off; {temp} {site} }}
""")
    process = subprocess.Popen([binary, "-p", str(folder), "-c", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{http_port}/", timeout=1)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {process.stderr.read().decode() if process.stderr else ''}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def proxied(db: psycopg.Connection, db_url: str, tmp_path: Path) -> Iterator[tuple[str, str, Path, str]]:
    """(the server's own URL, the public https URL through nginx, the CA file, nginx's plain http URL)"""
    derive.run_once(db, plant(), now=local("2026-03-04", "06:00"))
    add_user(db, "ann", "supervisor")
    http_port, https_port = free_port(), free_port()
    public = f"https://localhost:{https_port}"
    upstream = tmp_path / "serve"
    upstream.mkdir()
    with linebrain_serve(db_url, upstream, behind_proxy=True, trusted_proxies=["127.0.0.1"],
                         public_url=public) as direct, nginx(tmp_path, int(direct.rsplit(":", 1)[1]), http_port,
                                                             https_port):  # fmt: skip
        yield direct, public, tmp_path / "tls.crt", f"http://localhost:{http_port}"


def addresses(db: psycopg.Connection) -> list[tuple[str, str]]:
    return db.execute("SELECT actor, address FROM audit_log WHERE action = 'orders.plan' ORDER BY id").fetchall()


def test_signed_in_over_tls_through_nginx_with_the_clients_own_address(proxied: tuple[str, str, Path, str],
                                                                        db: psycopg.Connection) -> None:  # fmt: skip
    direct, public, ca, plain = proxied
    order = {"line_id": "line1", "product_id": "lager", "planned_quantity": 5}
    trust = ssl.create_default_context(cafile=str(ca))
    transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS, verify=trust)
    with httpx.Client(base_url=public, transport=transport, verify=trust) as browser:
        signed_in = sign_in(browser, "ann")
        assert signed_in.status_code == 303
        assert "Secure" in signed_in.headers["set-cookie"] and "HttpOnly" in signed_in.headers["set-cookie"]
        assert signed_in.headers["strict-transport-security"].startswith("max-age=")
        planted = browser.post("/api/orders", headers={"X-Forwarded-For": "6.6.6.6"}, json={**order, "number": "W-1"})
        assert planted.status_code == 201, planted.text
    assert httpx.get(f"{plain}/login").headers["location"].startswith("https://localhost")  # 301 to TLS
    # A client talking to the server directly is no trusted proxy: its X-Forwarded-For does not count.
    with httpx.Client(base_url=direct, transport=httpx.HTTPTransport(local_address=CLIENT_ADDRESS)) as script:
        token = bearer(db, "ann")
        direct_write = script.post("/api/orders", headers={**token, "X-Forwarded-For": "6.6.6.6"},
                                   json={**order, "number": "W-2"})  # fmt: skip
        assert direct_write.status_code == 201, direct_write.text
    assert addresses(db) == [("ann", CLIENT_ADDRESS), ("ann", CLIENT_ADDRESS)]
    assert db.execute("SELECT address FROM user_sessions").fetchall() == [(CLIENT_ADDRESS,)]
