"""Administration: an admin adds a user and changes a role; a supervisor sees no user list and
may not add one; the OEE report compares the lines and downloads each table."""

from __future__ import annotations

import csv
import io

from mes.auth import users
from mes.production import downtime
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
    first = page.locator("table.shifts-table tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == "early" and first.nth(1).inner_text().endswith("06:00")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    assert page.locator(".window").inner_text().endswith("06:00–14:00")
    page.close()


def test_a_manager_adds_a_product_its_ideal_rate_and_a_reason_a_supervisor_may_not(
        live_plant, sign_in, screenshots) -> None:  # fmt: skip
    page = sign_in("manager", lang="en", width=1280, height=900)
    page.goto(f"{live_plant.base_url}/admin?lang=en")
    page.fill("#products form[action='/admin/products'] input[name=product_id]", "stout05")
    page.fill("#products form[action='/admin/products'] input[name=name]", "Stout 0.5 l")
    page.click("#products form[action='/admin/products'] button")
    page.wait_for_selector(".msg")
    page.select_option("#products form[action='/admin/cycle-times'] select[name=product_id]", "stout05")
    page.fill("#products form[action='/admin/cycle-times'] input[name=ideal_cycle_time]", "0.75")
    page.click("#products form[action='/admin/cycle-times'] button")
    page.wait_for_selector(".msg")
    row = page.locator("table.products-table tbody tr", has_text="stout05").inner_text()
    assert "0.750 s *" in row and "added here" in row
    reasons = page.locator("form.add-reason").first
    reasons.locator("input[name=category]").fill("Material")
    reasons.locator("input[name=code]").fill("glue")
    reasons.locator("input[name=name]").fill("Label glue empty")
    reasons.locator("button").click()
    page.wait_for_selector(".msg")
    assert page.locator("button[data-action=retire-glue]").count() == 1
    refused = page.request.post(f"{live_plant.base_url}/admin/cycle-times", form={
        "product_id": "pils033", "line_id": "line1", "ideal_cycle_time": "0.1",
        "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value")})  # fmt: skip
    assert refused.status == 409 and "plant config" in refused.text(), "the config owns pils033's rate"
    for lang in ("zh_CN", "en"):
        page.goto(f"{live_plant.base_url}/admin?lang={lang}#products")
        page.screenshot(path=str(screenshots / f"admin-plant-{lang}.png"), full_page=True)
    page.close()
    with db(live_plant) as conn:
        trail = conn.execute("SELECT actor, action, object FROM audit_log WHERE action = 'plant.edit' ORDER BY id"
                             ).fetchall()  # fmt: skip
        line_reasons = {r["code"] for g in downtime.reason_tree(conn, "line1") for r in g["reasons"]}
    assert trail == [("manager", "plant.edit", "product:stout05"),
                     ("manager", "plant.edit", "product_cycle_time:stout05@line1"),
                     ("manager", "plant.edit", "downtime_reason:line1/glue")]
    assert "glue" in line_reasons, "offered on the line page at once"

    supervisor = sign_in("supervisor", lang="en")
    supervisor.goto(f"{live_plant.base_url}/admin?lang=en")
    assert supervisor.locator("form[action='/admin/products'], form.add-reason").count() == 0
    token = supervisor.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = supervisor.request.post(f"{live_plant.base_url}/admin/products", form={
        "product_id": "ale", "name": "Ale", "csrf_token": token})  # fmt: skip
    assert refused.status == 403
    supervisor.close()
