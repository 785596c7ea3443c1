"""A derivation run survives a database that lost what it synced (restored or recreated under the
same URL): it syncs again instead of failing every round; a unit that is not in the database is a
clear NotFound, not a TypeError ('NoneType' object is not subscriptable) that aborted the run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

from collectors.database.embedded import EmbeddedPostgres
from mes.errors import NotFound
from mes.production import derive
from tests.conftest import PREFIX, ExternalServer, create_named_database, drop_database
from tests.mes.production.scenario import RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-05", "07:00")


@pytest.fixture
def recreatable(pg_server: EmbeddedPostgres | ExternalServer, template_name: str) -> Iterator[str]:
    """A database's url; the test may drop and recreate it under the same url (create_named_database)."""
    url = create_named_database(pg_server, f"{PREFIX}r_{uuid.uuid4().hex[:12]}", template_name)
    yield url
    drop_database(pg_server, url)


def test_a_database_recreated_under_the_same_url_is_synced_again(pg_server: EmbeddedPostgres | ExternalServer,
                                                                 recreatable: str, template_name: str) -> None:
    url = recreatable
    the_plant = plant()
    with psycopg.connect(url, autocommit=True) as conn:
        assert derive.run_once(conn, the_plant, now=T0).errors == []
    drop_database(pg_server, url)  # a restore, a `db` reset: same url, nothing synced
    assert create_named_database(pg_server, urlsplit(url).path.lstrip("/"), template_name) == url
    with psycopg.connect(url, autocommit=True) as conn:
        assert derive.run_once(conn, the_plant, now=T0).errors == []  # synced again, not a foreign key error
        writer = SampleWriter(conn)
        state_series(writer, [(T0, T0 + timedelta(minutes=10), RUNNING)])
        writer.flush()
        report = derive.run_once(conn, the_plant, now=T0 + timedelta(minutes=10))
        assert report.errors == [] and "line1" in report.units
        running = conn.execute("SELECT sum(upper(period) - lower(period)) FROM state_intervals "
                               "WHERE equipment_id = 'line1' AND state = 'running'").fetchone()[0]
        assert running == timedelta(minutes=10)


def test_deriving_a_unit_that_is_not_in_the_database_is_a_clear_error(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0)
    with pytest.raises(NotFound, match="line9: not in the database"):
        derive.derive_unit(db, "line9", {}, T0)
