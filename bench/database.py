"""The database of a bench: an embedded PostgreSQL in a throw-away folder (or one kept with
``--keep`` and reused next time), with a migrated database ``bench``; or both flavours' servers in
turn, for a bench that compares plain PostgreSQL with TimescaleDB in one run."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FLAVOURS = ("plain", "timescaledb")


@contextmanager
def bench_database(keep: Path | None, prefix: str) -> Iterator[tuple[str, bool]]:
    """``(url, fresh)``: fresh is True when the database was just created (generate the data)."""
    import psycopg

    from collectors.database.embedded import EmbeddedPostgres
    from collectors.database.migrations import migrate
    from mes import ALL_MIGRATIONS
    from tests.conftest import free_port

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        data_dir = keep or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(data_dir, 0o755)
        server = EmbeddedPostgres(data_dir, port=free_port())
        server.start()
        try:
            with psycopg.connect(server.admin_url(), autocommit=True) as admin:
                fresh = admin.execute("SELECT 1 FROM pg_database WHERE datname = 'bench'").fetchone() is None
            url = server.create_database("bench") if fresh else server.url("bench")
            migrate(url, ALL_MIGRATIONS)
            yield url, fresh
        finally:
            server.stop()


def flavour_servers(prefix: str) -> Iterator[tuple[str, Any, Path]]:
    """``(flavour, server, folder)`` for plain PostgreSQL, then TimescaleDB: an embedded server each,
    from the same binaries, started before it is yielded and stopped after, in one throw-away folder."""
    from bench.store import free_port
    from collectors.database.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chmod(tmp, 0o755)
        for flavour in FLAVOURS:
            print(f"== {flavour}", flush=True)
            server = EmbeddedPostgres(Path(tmp) / flavour, port=free_port(), timescaledb=flavour == "timescaledb")
            server.start()
            try:
                yield flavour, server, Path(tmp)
            finally:
                server.stop()
