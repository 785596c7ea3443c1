"""Shared fixtures: one embedded PostgreSQL per test session, a
migrated template database, and a fresh database per test cloned from it.

``LINEBRAIN_TEST_FLAVOUR=timescaledb`` runs the server with TimescaleDB preloaded
(scripts/test installs it and runs the database tests a second time so);
``LINEBRAIN_TEST_DATABASE_URL`` runs them against any server instead. Tests that
use the server are marked ``database``; one that only makes sense on one flavour
is marked ``plain_only("why")`` or ``timescaledb_only("why")``.

On the embedded server the tests' databases belong to the application role
``linebrain`` (not a superuser) and ``db_url`` logs in as it, as the product does;
``db_admin_url`` is the superuser's URL of the same database, for the few tests that
need it. ``another_user`` is a second, unprivileged OS user for local-attacker tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from collectors.database.embedded import EmbeddedPostgres
from collectors.database.flavour import Flavour, database_flavour
from mes.auth.keeper import migrate_and_seal
from tests.other_user import OtherUser, other_user

# Which server the database tests run on (scripts/test runs the database tests once per flavour):
# "plain" (the default; TimescaleDB is not preloaded even when installed) or "timescaledb".
FLAVOUR = os.environ.get("LINEBRAIN_TEST_FLAVOUR", "plain")
if FLAVOUR not in ("plain", "timescaledb"):
    raise pytest.UsageError(f"LINEBRAIN_TEST_FLAVOUR={FLAVOUR!r}: use plain or timescaledb")
# A user's own server instead of the embedded one; its flavour is whatever it is.
EXTERNAL_URL = os.environ.get("LINEBRAIN_TEST_DATABASE_URL") or None
# Every database a session creates carries this prefix, and only such databases are dropped.
PREFIX = f"lbt_{uuid.uuid4().hex[:8]}_"
ADMIN_DATABASE = urlsplit(EXTERNAL_URL).path.lstrip("/") if EXTERNAL_URL else "postgres"

# Property and fuzz tests are deterministic by default: the same examples on every run and machine, so a
# failure reproduces and never blocks an unrelated landing; the falsifying example is printed with the
# blob to replay it. HYPOTHESIS_PROFILE=explore draws fresh random examples (and more of them) for a
# deliberate search (tests that set no max_examples of their own get 500). The API fuzz tests take their
# examples per operation from LINEBRAIN_SCHEMA_EXAMPLES (tests/fuzz.py).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])  # timing: on a busy machine it fails by load
settings.register_profile("explore", derandomize=False, database=None, print_blob=True, deadline=None,
                          max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server_data_dir() -> Iterator[Path]:
    """A throw-away data dir for an embedded server, outside pytest's tmp tree: pytest resets
    /tmp/pytest-of-<user> to 0700 whenever a session starts, which would lock out the
    unprivileged user PostgreSQL runs as when the tests run as root."""
    path = Path(tempfile.mkdtemp(prefix="linebrain-test-pg-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def own_server(data_dir: Path) -> EmbeddedPostgres:
    """An embedded server of the session's flavour for a test that stops and starts it itself."""
    return EmbeddedPostgres(data_dir, port=free_port(), timescaledb=FLAVOUR == "timescaledb")


@pytest.fixture
def pg_data_dir() -> Iterator[Path]:
    with server_data_dir() as path:
        yield path


class ExternalServer:
    """A server named by ``LINEBRAIN_TEST_DATABASE_URL`` (a user's own PostgreSQL or TimescaleDB).

    Its URL's user needs CREATEDB; the suite creates its databases under ``PREFIX`` and drops only those."""

    def __init__(self, url: str) -> None:
        self.base = url

    def url(self, database: str) -> str:
        return database_url(self.base, database)

    def admin_url(self, database: str) -> str:
        return database_url(self.base, database)


def database_url(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def login_url(url: str, user: str, password: str) -> str:
    """``url`` with another user and password (e.g. Grafana's read-only role)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{quote(user)}:{quote(password)}@{host}", parts.path, parts.query, ""))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres | ExternalServer]:
    """The same embedded server the product runs, in a throw-away data dir, as the flavour
    ``LINEBRAIN_TEST_FLAVOUR`` asks for; or the external server of ``LINEBRAIN_TEST_DATABASE_URL``."""
    if EXTERNAL_URL:
        yield ExternalServer(EXTERNAL_URL)
        return
    with server_data_dir() as data_dir:
        server = EmbeddedPostgres(data_dir, port=free_port(), timescaledb=FLAVOUR == "timescaledb")
        server.start()
        # A throw-away server: no fsync (nor torn-page protection), which only an OS crash would need;
        # a killed PostgreSQL or client loses nothing more. Cloning and dropping a test database each
        # write the whole clone, and the suite makes hundreds.
        with psycopg.connect(server.admin_url(ADMIN_DATABASE), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")
        yield server
        server.stop()


def create_database(server: EmbeddedPostgres | ExternalServer, kind: str, template: str | None = None) -> str:
    """A new database named ``PREFIX + kind + random``, optionally cloned from ``template``; its URL."""
    return create_named_database(server, f"{PREFIX}{kind}_{uuid.uuid4().hex[:12]}", template)


def create_named_database(server: EmbeddedPostgres | ExternalServer, name: str, template: str | None = None) -> str:
    """Database ``name`` (which must carry ``PREFIX``), optionally cloned from ``template``; its URL."""
    assert name.startswith(PREFIX), f"{name!r}: this session's databases carry {PREFIX!r}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server.admin_url(ADMIN_DATABASE), autocommit=True) as conn:
        for attempt in range(50):
            try:
                if isinstance(server, EmbeddedPostgres):  # owned by the application role, as in production
                    return server.create_database(name, template=template)
                conn.execute(f'CREATE DATABASE "{name}"{clause}')
                break
            except psycopg.errors.ObjectInUse:
                # Something still holds the template (a TimescaleDB scheduler being stopped).
                if attempt == 49:
                    raise
                _disconnect_all(conn, template or "")
                time.sleep(0.1)
    return server.url(name)


def drop_database(server: EmbeddedPostgres | ExternalServer, url: str) -> None:
    """Drop a database this session created (never one it did not: the name must carry ``PREFIX``)."""
    name = urlsplit(url).path.lstrip("/")
    assert name.startswith(PREFIX), f"refusing to drop {name!r}: not created by this test session"
    with psycopg.connect(server.admin_url(ADMIN_DATABASE), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _disconnect_all(conn: psycopg.Connection, database: str) -> None:
    """Close the sessions in ``database`` this login may close: all as a superuser; otherwise its own
    (an external server's TimescaleDB scheduler runs as a superuser and leaves by itself when the
    database is cloned or dropped)."""
    conn.execute("SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a WHERE a.datname = %s "
                 "AND a.pid <> pg_backend_pid() AND ((SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
                 "OR pg_has_role(current_user, a.usesysid, 'MEMBER'))", (database,))  # fmt: skip


@pytest.fixture(scope="session")
def template_url(pg_server: EmbeddedPostgres | ExternalServer) -> Iterator[str]:
    """A migrated database the tests' databases are cloned from. Nobody may stay connected to it:
    TimescaleDB's scheduler would (and CREATE DATABASE ... TEMPLATE refuses a template in use), so
    connections to it are closed and forbidden once it is migrated."""
    url = create_database(pg_server, "template")
    name = urlsplit(url).path.lstrip("/")
    # As the product does: on the embedded server the superuser hands the audit log to its keeper.
    migrate_and_seal(url, pg_server.admin_url(name) if isinstance(pg_server, EmbeddedPostgres) else None)
    with psycopg.connect(pg_server.admin_url(ADMIN_DATABASE), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        _disconnect_all(conn, name)
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
def template_name(template_url: str) -> str:
    return urlsplit(template_url).path.lstrip("/")


@pytest.fixture(scope="session")
def flavour(pg_server: EmbeddedPostgres | ExternalServer, template_name: str) -> Flavour:
    """The flavour the test databases have (cloned from the template, so all the same)."""
    url = create_database(pg_server, "flavour", template_name)
    try:
        with psycopg.connect(url) as conn:
            return database_flavour(conn)
    finally:
        drop_database(pg_server, url)


class ClonePool:
    """Fresh clones of the template, made one ahead and dropped behind in a background thread, so
    that a test's database is ready when it starts and the test does not wait for the last one's
    drop: cloning and dropping run on the server (another process, another core) while tests run.

    One worker thread: creations and drops run one at a time, in order. A clone is handed out once."""

    def __init__(self, server: EmbeddedPostgres | ExternalServer, template: str) -> None:
        self.server, self.template = server, template
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="test-db-clones")
        self._drops: list[Future[None]] = []
        self._spare = self._clone()

    def _clone(self) -> Future[str]:
        return self._worker.submit(create_database, self.server, "t", self.template)

    def take(self) -> str:
        """A fresh clone (waits if the one ahead is not ready yet); the next one starts at once."""
        url = self._spare.result()
        self._spare = self._clone()
        return url

    def give_back(self, url: str) -> None:
        """Drop ``url`` in the background (its test is over; nobody else ever gets it)."""
        self._drops = [drop for drop in self._drops if not drop.done() or drop.exception()]
        self._drops.append(self._worker.submit(drop_database, self.server, url))

    def close(self) -> None:
        """Wait for the work in flight, drop the spare; a failed drop fails the session's teardown."""
        if self._spare.exception() is None:
            drop_database(self.server, self._spare.result())
        self._worker.shutdown(wait=True)
        for drop in self._drops:
            drop.result()


@pytest.fixture(scope="session")
def clone_pool(pg_server: EmbeddedPostgres | ExternalServer, template_name: str) -> Iterator[ClonePool]:
    pool = ClonePool(pg_server, template_name)
    yield pool
    pool.close()


@pytest.fixture
def db_url(clone_pool: ClonePool) -> Iterator[str]:
    """A fresh, fully migrated database for one test (cloned from the template ahead of time: fast)."""
    url = clone_pool.take()
    yield url
    clone_pool.give_back(url)


@pytest.fixture
def db_admin_url(pg_server: EmbeddedPostgres | ExternalServer, db_url: str) -> str:
    """The superuser's URL of the database behind ``db_url`` (on the embedded server)."""
    return pg_server.admin_url(urlsplit(db_url).path.lstrip("/"))


@pytest.fixture
def empty_db_url(pg_server: EmbeddedPostgres | ExternalServer) -> Iterator[str]:
    """A fresh database with no schema at all."""
    url = create_database(pg_server, "e")
    yield url
    drop_database(pg_server, url)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def another_user() -> OtherUser:
    """A second, unprivileged OS user (the local attacker of docs/security.md), created with useradd."""
    if os.geteuid() != 0:
        pytest.skip("creating a second OS user needs root; CI and scripts/test run as root")
    return other_user()


@pytest.fixture
def repo() -> Path:
    return REPO


# Password hashes in tests: argon2id, but with cheap parameters (t=1, m=1 MiB, p=1) instead of the
# product's RFC 9106 profile (t=3, m=64 MiB, p=4: ~0.4 s per hash or check on the CI machine, and the suite
# creates and signs in users by the hundred). Only this fixture can choose them: mes.auth.users has no
# setting for its hasher, so no configuration of a real plant reaches it. Hashes made with them still
# verify anywhere (argon2 reads the parameters from the hash), also in a `linebrain serve` child process,
# which keeps the real parameters. The real parameters are tested through ``production_password_hashes``.
_production_hashing: list[Any] = []  # the product's (hasher, dummy hash) while the cheap ones are in place


@pytest.fixture(scope="session", autouse=True)
def _test_password_hashes() -> Iterator[None]:
    from argon2 import PasswordHasher

    from mes.auth import users

    _production_hashing[:] = users._hasher, users._DUMMY_HASH
    users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)  # argon2id (the default type)
    users._DUMMY_HASH = users._hasher.hash("not a password of anyone")
    yield
    users._hasher, users._DUMMY_HASH = _production_hashing


@pytest.fixture
def production_password_hashes() -> Iterator[None]:
    """The product's own argon2id parameters for one test (the session otherwise uses cheap ones)."""
    from mes.auth import users

    cheap = users._hasher, users._DUMMY_HASH
    users._hasher, users._DUMMY_HASH = _production_hashing
    yield
    users._hasher, users._DUMMY_HASH = cheap


@pytest.fixture(autouse=True)
def _no_ambient_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their database explicitly; a developer's env must not leak in."""
    if "LINEBRAIN_DATABASE_URL" in os.environ:
        monkeypatch.delenv("LINEBRAIN_DATABASE_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the database server ``database`` (scripts/test selects the
    TimescaleDB pass by it), and move the browser tests to the end of the run."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)
    # Playwright's sync API leaves its event loop marked as running in the main thread for as long
    # as a browser fixture lives, so asyncio.run() and pytest-asyncio fail in any test that runs
    # while one is open. The browser tests therefore run last (stable sort: their order is kept).
    items.sort(key=lambda item: "browser" in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _one_flavour_only(request: pytest.FixtureRequest) -> None:
    """Skip, with its stated reason, a test that only makes sense on the other flavour."""
    for marker, wanted in (("plain_only", False), ("timescaledb_only", True)):
        mark = request.node.get_closest_marker(marker)
        if mark is None:
            continue
        flavour: Flavour = request.getfixturevalue("flavour")
        if flavour.timescaledb != wanted:
            pytest.skip(f"{marker}: {mark.args[0] if mark.args else mark.kwargs.get('reason', '')}")


CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own browser download is not used
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless chromium per test module. Not per session: Playwright's sync API runs an event
    loop in the main thread while it lives, which later tests' ``asyncio.run`` would trip over."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
