"""The reports page in chromium, in both languages: a supervisor makes a shift report from the
form, finds it in the list and downloads it; an operator sees the list but no forms, and the
server refuses the form's post (403)."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest
import uvicorn

from mes.api import create_app
from tests.conftest import free_port
from tests.mes.auth.helpers import add_user, sign_in_page
from tests.mes.reports.simulated import SHIFT_END
from tests.mes.web.conftest import SCREENSHOTS
from tests.mes.web.test_languages import NOT_WORDS, VISIBLE_TEXT


@pytest.fixture(scope="module")
def base_url(shift_db_url: str) -> Iterator[str]:
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        add_user(conn, "sue", "supervisor")
        add_user(conn, "olga", "operator")
    app = create_app(shift_db_url)
    app.state.clock = lambda: SHIFT_END
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM stored_reports WHERE NOT scheduled")


def signed_in(browser: Any, base_url: str, name: str, lang: str) -> Any:
    return sign_in_page(browser, base_url, name, lang, viewport={"width": 1024, "height": 768}, accept_downloads=True)


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_supervisor_makes_a_shift_report_and_downloads_it(browser: Any, base_url: str, lang: str) -> None:
    page = signed_in(browser, base_url, "sue", lang)
    page.goto(f"{base_url}/reports?lang={lang}")
    form = page.locator("form[action='/reports']")
    form.locator("select[name=kind]").select_option("shift")
    form.locator("input[name=day]").fill("2026-03-04")
    form.locator("input[name=shift]").fill("early")
    form.locator("select[name=format]").select_option("xlsx")
    form.locator("select[name=lang]").select_option("en")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"msg=report_made"))
    row = page.locator("#stored-reports tbody tr").first
    assert "2026-03-04 early" in row.inner_text()
    with page.expect_download() as download:
        row.locator("a[download]").click()
    book = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read()))  # noqa: SIM115
    assert book["Summary"]["A1"].value == "Shift report"
    if lang == "zh_CN":
        assert "报告已生成" in page.content()
        words = {w for text in page.evaluate(VISIBLE_TEXT) for w in re.findall(r"[A-Za-z]{2,}", text)}
        assert words - NOT_WORDS == set()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"reports-{lang}.png"), full_page=True)
    page.context.close()


def test_an_operator_sees_the_reports_but_may_not_make_one(browser: Any, base_url: str) -> None:
    page = signed_in(browser, base_url, "olga", "en")
    page.goto(f"{base_url}/reports?lang=en")
    assert page.locator("#stored-reports").is_visible()
    assert page.locator("form[action='/reports']").count() == 0
    assert page.locator("form[action='/reports/sign-off']").count() == 0
    page.goto(f"{base_url}/lines/line1?lang=en")  # a page with a form of hers: her session's CSRF token
    token = page.locator("input[name=csrf_token]").first.input_value()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    refused = httpx.post(f"{base_url}/reports", data={"line_id": "line1", "kind": "day", "csrf_token": token},
                         cookies=cookies, headers={"accept": "text/html"}, follow_redirects=False)  # fmt: skip
    assert refused.status_code == 403 and "reports.generate" in refused.text
    page.context.close()
