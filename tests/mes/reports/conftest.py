"""One simulated early shift per test session for the report tests (derivation takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import create_database, drop_database
from tests.mes.reports.simulated import simulate_shift


@pytest.fixture(scope="session")
def shift_db_url(pg_server, template_name) -> Iterator[str]:
    """A database holding the simulated early shift of 2026-03-04 (tests only read it, or add
    records they clean up)."""
    url = create_database(pg_server, "reports", template_name)
    with psycopg.connect(url, autocommit=True) as conn:
        simulate_shift(conn)
    yield url
    drop_database(pg_server, url)
