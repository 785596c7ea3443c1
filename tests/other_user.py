"""A second, unprivileged OS user for the local-attacker tests (docs/security.md).

Plants run LineBrain on shared PCs; any local account is a possible attacker. The
tests create one (``useradd``, so they must run as root, as CI and scripts/test do)
and run small probes as it: a fresh interpreter with that user's uid and gids only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from collectors.database.embedded import ensure_system_user

NAME = "linebrain-probe"

# Runs as the other user: tries each operation, reports what the system said.
_PROBE = r"""
import json, os, socket, sys

def attempt(action, path):
    try:
        if action == "read":
            with open(path, "rb") as handle:
                handle.read(1)
        elif action == "list":
            os.listdir(path)
        elif action == "unlink":
            os.unlink(path)
        elif action == "create":
            os.close(os.open(os.path.join(path, "planted"), os.O_WRONLY | os.O_CREAT, 0o600))
        elif action == "bind":
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path)
        elif action == "connect-unix":
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
        return "allowed"
    except PermissionError:
        return "denied"
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"error: {exc.strerror}"

print(json.dumps([attempt(action, path) for action, path in json.loads(sys.argv[1])]))
"""

_LOGIN = r"""
import json, sys
import psycopg
outcomes = []
for conninfo in json.loads(sys.argv[1]):
    try:
        with psycopg.connect(conninfo, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
        outcomes.append("logged in")
    except psycopg.OperationalError as exc:
        outcomes.append(str(exc))
print(json.dumps(outcomes))
"""


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int

    def attempt(self, *operations: tuple[str, Path]) -> list[str]:
        """Each ``(action, path)`` tried as this user: "allowed", "denied", "missing" or "error: ..."."""
        return self._python(_PROBE, [(action, str(path)) for action, path in operations])

    def log_in(self, *conninfos: str) -> list[str]:
        """Try each connection string as this user: "logged in" or the server's/libpq's refusal."""
        return self._python(_LOGIN, list(conninfos))

    def _python(self, code: str, argument: object) -> list[str]:
        # Our site-packages on the path (psycopg for the login probe); the interpreter may sit under
        # /root (pyenv), which this user cannot enter: then the system's python of the same version.
        paths = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
        env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PGPASSFILE": "/nonexistent",
               "PYTHONPATH": os.pathsep.join(sorted(paths))}  # fmt: skip
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        for interpreter in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
            try:
                result = subprocess.run(
                    [interpreter, "-I" if interpreter == sys.executable else "-s", "-c", code, json.dumps(argument)],
                    capture_output=True, text=True, check=True, user=self.uid, group=self.gid, extra_groups=[],
                    cwd="/", env=env, timeout=60,
                )  # fmt: skip
            except (PermissionError, FileNotFoundError):
                continue
            return list(json.loads(result.stdout))
        raise RuntimeError(f"{self.name} can run no {version} interpreter")


def other_user() -> OtherUser:
    """The probe user, created on first use (a system account without home or shell)."""
    if os.geteuid() != 0:
        raise PermissionError("creating a second OS user needs root (CI and scripts/test run as root)")
    entry = ensure_system_user(NAME)
    return OtherUser(NAME, entry.pw_uid, entry.pw_gid)
