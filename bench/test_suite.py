"""The two per-test costs the suite's fixtures cut (tests/conftest.py), each against the setting it replaced.

- A test database: ``CREATE DATABASE ... TEMPLATE`` of the fully migrated template and its ``DROP``, on an
  embedded server as the tests start it, with ``fsync`` and ``full_page_writes`` on (the product's setting,
  the suite's before) and off (the throw-away test server's). Interleaved, so load drifts hit both sides.
- A password: one argon2id hash plus one verify with the product's RFC 9106 low-memory profile
  (``mes.auth.users``) and with the tests' cheap parameters.

Usage: .venv/bin/python bench/test_suite.py [--clones 8] [--hashes 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argon2
import psycopg

from bench.machine import describe
from collectors.database.embedded import EmbeddedPostgres
from collectors.database.migrations import migrate
from mes import ALL_MIGRATIONS

TEST_PARAMETERS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}  # as tests/conftest.py


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clones(count: int) -> dict[str, tuple[float, float]]:
    """Median seconds of (clone, drop) per durability setting."""
    times: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    data_dir = Path(tempfile.mkdtemp(prefix="linebrain-bench-pg-"))
    data_dir.chmod(0o755)
    server = EmbeddedPostgres(data_dir, port=free_port(), timescaledb=False)
    server.start()
    try:
        url = server.create_database("bench_template")
        migrate(url, ALL_MIGRATIONS)
        template = urlsplit(url).path.lstrip("/")
        with psycopg.connect(server.admin_url(), autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false')
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
            for _ in range(count):
                for setting in ("on", "off"):
                    conn.execute(f"ALTER SYSTEM SET fsync = {setting}")
                    conn.execute(f"ALTER SYSTEM SET full_page_writes = {setting}")
                    conn.execute("SELECT pg_reload_conf()")
                    time.sleep(0.2)
                    conn.execute("SELECT 1")  # a backend reads the reloaded file between two commands
                    assert conn.execute("SHOW fsync").fetchone() == (setting,)
                    started = time.perf_counter()
                    conn.execute(f'CREATE DATABASE bench_clone TEMPLATE "{template}"')
                    cloned = time.perf_counter()
                    conn.execute("DROP DATABASE bench_clone WITH (FORCE)")
                    times[setting].append((cloned - started, time.perf_counter() - cloned))
    finally:
        server.stop()
    return {key: (statistics.median(c for c, _ in values), statistics.median(d for _, d in values))
            for key, values in times.items()}  # fmt: skip


def hashes(count: int) -> dict[str, float]:
    """Median seconds of one hash plus one verify per parameter set."""
    result = {}
    for name, hasher in (("product", argon2.PasswordHasher()), ("tests", argon2.PasswordHasher(**TEST_PARAMETERS))):
        runs = []
        for _ in range(count):
            started = time.perf_counter()
            hasher.verify(hasher.hash("correct horse battery"), "correct horse battery")
            runs.append(time.perf_counter() - started)
        result[name] = statistics.median(runs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=8)
    parser.add_argument("--hashes", type=int, default=5)
    args = parser.parse_args()
    database = clones(args.clones)
    password = hashes(args.hashes)
    from importlib.metadata import version

    versions = f"argon2-cffi {version('argon2-cffi')}", f"psycopg {psycopg.__version__}"
    print(f"machine: {describe(*versions)}")
    for setting, (clone, drop) in database.items():
        print(f"test database, fsync {setting:>3}: clone {clone * 1000:7.0f} ms, drop {drop * 1000:6.0f} ms (median)")
    on, off = database["on"], database["off"]
    print(f"  ratio on/off: clone {on[0] / off[0]:.1f}x, drop {on[1] / off[1]:.1f}x")
    for name, seconds in password.items():
        print(f"argon2id hash + verify, {name:>7} parameters: {seconds * 1000:7.1f} ms (median)")
    print(f"  ratio product/tests: {password['product'] / password['tests']:.0f}x")


if __name__ == "__main__":
    main()
