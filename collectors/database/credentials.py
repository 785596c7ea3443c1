"""Passwords of the embedded server's roles, kept in a libpq password file.

Why a password file rather than passwords in URLs: a URL is printed, logged,
passed on command lines and pasted into Grafana forms. Our URLs instead name the
file (``?passfile=...``); libpq reads the password from it and ignores the file
unless it is private (0600). Only the OS user that runs LineBrain can read it.

Passwords reach the server as SCRAM-SHA-256 verifiers computed here, so the
clear text never appears in the server's statement log either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from collectors.errors import DatabaseError

SCRAM_ITERATIONS = 4096
PRIVATE_FILE = 0o600


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802/7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(hashlib.sha256(client_key).digest()).decode()}:{b64(server_key).decode()}"
    )


def new_password() -> str:
    """A random password: 256 bits, URL- and pgpass-safe (no ``:`` nor ``\\``)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class RolePasswords:
    """The clear-text passwords of the embedded server's roles, by role name."""

    by_role: dict[str, str]

    def of(self, role: str) -> str:
        try:
            return self.by_role[role]
        except KeyError:
            raise DatabaseError(f"no password for role {role} in the password file") from None


def read_passfile(path: Path) -> RolePasswords:
    """Parse a password file we wrote (``*:*:*:role:password`` lines)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatabaseError(f"cannot read the database password file {path}: {exc.strerror}") from exc
    by_role: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 5:
            raise DatabaseError(f"{path}:{number}: expected host:port:database:role:password")
        by_role.setdefault(fields[3], fields[4])
    return RolePasswords(by_role)


def write_passfile(path: Path, passwords: RolePasswords) -> None:
    """Write the file atomically, 0600 from its first byte (never readable by others, even briefly)."""
    lines = ["# LineBrain embedded server: role passwords (libpq password file). Keep private."]
    lines += [f"*:*:*:{role}:{password}" for role, password in passwords.by_role.items()]
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, PRIVATE_FILE)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
