"""Administration: an admin adds a user and changes a role; a supervisor sees no user list and
may not add one; the OEE report compares the lines and downloads each table."""

from __future__ import annotations

import csv
import io

from mes.auth import users
from tests.mes.web.live import db


def test_an_admin_adds_a_user_and_changes_the_role(live_plant, sign_in) -> None:
    page = sign_in("admin", lang="zh_CN")
    page.goto(f"{live_plant.base_url}/admin?lang=zh_CN")
    page.fill("#users input[name=name]", "li.wei")
    page.select_option("#users form[action='/admin/users'] select[name=role]", "operator")
    page.fill("#users input[name=password]", "a long enough password")
    page.click("#users form[action='/admin/users'] button")
    page.wait_for_selector(".msg")
    assert page.locator(".msg").inner_text() == "用户已添加。"
    page.select_option("form[action='/admin/users/li.wei/role'] select", "supervisor")
    page.click("form[action='/admin/users/li.wei/role'] button")
    page.wait_for_selector(".msg")
    with db(live_plant) as conn:
        added = users.get_user(conn, "li.wei")
    assert (added["role"], added["locale"]) == ("supervisor", "zh-CN")
    page.close()


def test_a_supervisor_sees_no_user_list_and_may_not_add_a_user(live_plant, sign_in) -> None:
    page = sign_in("supervisor")
    page.goto(f"{live_plant.base_url}/admin?lang=en")
    assert page.locator("#users").count() == 0
    assert page.locator("form[action='/admin/holidays']").count() == 1, "supervisors plan the calendar"
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{live_plant.base_url}/admin/users", form={
        "name": "mallory", "role": "admin", "password": "a long enough password", "csrf_token": token},
        max_redirects=0)  # fmt: skip
    assert refused.status == 403
    page.close()


def test_the_oee_report_compares_lines_and_downloads_its_tables(live_plant, sign_in) -> None:
    page = sign_in("manager")
    page.goto(f"{live_plant.base_url}/oee?period=day&by=shift&lang=en")
    assert page.locator("h2", has_text="OEE by line").count() == 1
    answer = page.request.get(f"{live_plant.base_url}/oee/lines.csv?line=line1&period=day&by=shift")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text().lstrip("\ufeff"))))
    assert [r["group_key"] for r in rows] == ["line1"] and float(rows[0]["pbt"]) > 0
    assert page.locator("h2", has_text="Changeovers").count() == 1
    changes = page.request.get(f"{live_plant.base_url}/oee/changeovers.csv?line=line1&period=day")
    assert changes.status == 200 and changes.text().startswith("\ufeff")
    xlsx = page.request.get(f"{live_plant.base_url}/oee/pareto.xlsx?line=line1&period=day&by=shift")
    assert xlsx.status == 200 and xlsx.body()[:2] == b"PK"
    page.close()


def test_pages_show_plant_time(live_plant, sign_in) -> None:
    """The brewery is in Europe/Berlin: its early shift reads 06:00–14:00 on every page."""
    page = sign_in("supervisor")
    page.goto(f"{live_plant.base_url}/admin?lang=en")
    first = page.locator("table.data tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == "early" and first.nth(1).inner_text().endswith("06:00")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    assert page.locator(".window").inner_text().endswith("06:00–14:00")
    page.close()
