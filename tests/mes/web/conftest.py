"""Fixtures of the page tests: one live plant per session, signed-in pages of the module's chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mes.auth import users
from mes.auth.permissions import ROLES
from tests.conftest import REPO, create_database, drop_database
from tests.mes.auth.helpers import PASSWORD, sign_in_page
from tests.mes.web.live import LivePlant

SCREENSHOTS = REPO / "build" / "screenshots"


@pytest.fixture(scope="session")
def live_plant(pg_server, template_name, tmp_path_factory) -> Iterator[LivePlant]:
    url = create_database(pg_server, "pages", template_name)
    plant = LivePlant(url, tmp_path_factory.mktemp("spool"))
    with psycopg.connect(plant.database_url, autocommit=True) as conn:
        for role in ROLES:
            users.add_user(conn, role, role, PASSWORD, actor="test-setup")
    plant.start()
    yield plant
    plant.stop()
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
def sign_in(live_plant, browser) -> Iterator[Callable[..., Any]]:
    """``sign_in(role, lang)``: a new tablet-sized page signed in as the user named after ``role``
    (each role signs in through the form once per module; its cookies are reused)."""
    states: dict[str, Any] = {}
    contexts = []

    def page(role: str, lang: str = "en", width: int = 1024, height: int = 768) -> Any:
        if role not in states:
            first = sign_in_page(browser, live_plant.base_url, role, lang)
            states[role] = first.context.storage_state()
            first.context.close()
        context = browser.new_context(storage_state=states[role], viewport={"width": width, "height": height},
                                      locale="zh-CN" if lang == "zh_CN" else "en-US")  # fmt: skip
        contexts.append(context)
        return context.new_page()

    yield page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
