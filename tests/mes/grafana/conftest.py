"""One database for the Grafana tests, filled with plant data, with Grafana's read-only role.

Shared by the whole session (filling it costs seconds); tests that change it
only add records or refresh the KPI cache, which every panel must survive."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest

from collectors.database.embedded import EmbeddedPostgres
from mes.grafana.role import ensure_role
from tests.conftest import ExternalServer, create_database, drop_database, login_url
from tests.mes.grafana import plant_data


@dataclass(frozen=True)
class GrafanaDatabase:
    url: str  # as the owner (migrations, data)
    admin_url: str  # as the superuser
    reader_url: str  # as Grafana's read-only role
    role: str
    start: datetime
    end: datetime


@pytest.fixture(scope="session")
def grafana_db(
    pg_server: EmbeddedPostgres | ExternalServer, template_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GrafanaDatabase]:
    url = create_database(pg_server, "g", template_name)
    start, end = plant_data.window()
    plant_data.fill(url, start, end, tmp_path_factory.mktemp("spool"))
    end = datetime.now(UTC) + timedelta(minutes=1)  # the store's ledger rows are committed now
    role = f"grafana_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_role(conn, role, "test-password")
    admin_url = pg_server.admin_url(urlsplit(url).path.lstrip("/"))
    yield GrafanaDatabase(url, admin_url, login_url(url, role, "test-password"), role, start, end)
    drop_database(pg_server, url)
