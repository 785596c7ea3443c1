"""Users and credentials for tests that talk to the server: real users, real argon2 hashes,
real sessions and tokens (no header seam, no overridden dependency)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg

from mes.auth import tokens, users

PASSWORD = "correct horse battery"  # 21 characters: above the minimum


def add_user(db: psycopg.Connection, name: str, role: str, password: str = PASSWORD) -> None:
    users.add_user(db, name, role, password, actor="test-setup")


def bearer(db: psycopg.Connection, name: str, scopes: tuple[str, ...] = ("write",)) -> dict[str, str]:
    """An ``Authorization`` header with a fresh API token of ``name``."""
    secret, _record = tokens.create_token(db, name, list(scopes), actor="test-setup")
    return {"Authorization": f"Bearer {secret}"}


def user_with_token(db: psycopg.Connection, name: str, role: str) -> dict[str, str]:
    add_user(db, name, role)
    return bearer(db, name)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(client: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the login form like a browser: GET the form, POST it with its CSRF token."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip


def sign_in_page(browser: Any, base_url: str, name: str, lang: str = "en", **context: Any) -> Any:
    """A new chromium page signed in as ``name`` through the sign-in form (password
    :data:`PASSWORD`), in ``lang``'s locale; ``context`` adds options of ``browser.new_context``
    (viewport, accept_downloads)."""
    page = browser.new_context(locale="zh-CN" if lang == "zh_CN" else "en-US", **context).new_page()
    page.goto(f"{base_url}/login?lang={lang}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/andon")
    return page
