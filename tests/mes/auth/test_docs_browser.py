"""``/docs`` and ``/redoc`` render in headless Chromium with every request off the server
blocked: their assets come from an installed package, and our CSP (no inline scripts) holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route

from collectors.database.embedded import EmbeddedPostgres
from tests.conftest import ExternalServer, create_database, drop_database
from tests.mes.auth.server import linebrain_serve


@pytest.fixture(scope="module")
def server(pg_server: EmbeddedPostgres | ExternalServer, template_name: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # fmt: skip
    """One ``linebrain serve`` for the module: both tests only read the documentation pages."""
    url = create_database(pg_server, "docs", template_name)
    try:
        with linebrain_serve(url, tmp_path_factory.mktemp("serve")) as base:
            yield base
    finally:
        drop_database(pg_server, url)


@pytest.fixture
def page_on_server(server: str, browser: Browser) -> Iterator[tuple[Page, str, list[str]]]:
    """A fresh browser context per test, every request off the server blocked and recorded."""
    base = server
    context = browser.new_context()
    problems: list[str] = []  # console errors, page errors and requests that tried to leave

    def only_our_server(route: Route) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            problems.append(f"blocked: {route.request.url}")
            route.abort()

    context.route("**/*", only_our_server)
    page = context.new_page()
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        yield page, base, problems
    finally:
        context.close()


def test_swagger_ui_renders_every_operation_offline(page_on_server: tuple[Page, str, list[str]]) -> None:
    page, base, problems = page_on_server
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() >= 50
    assert "LineBrain" in page.locator(".title").first.inner_text()
    assert problems == []


def test_redoc_renders_offline(page_on_server: tuple[Page, str, list[str]]) -> None:
    page, base, problems = page_on_server
    page.goto(f"{base}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "LineBrain" in page.locator("h1").first.inner_text()
    assert page.get_by_text("/api/orders/{order_id}").count() >= 1
    # ReDoc's "powered by" logo points at its CDN; the CSP stops it before any request leaves.
    assert [p for p in problems if "cdn.redoc.ly/redoc/logo-mini.svg" not in p] == []
