"""Sign-in for each role, and a role's missing permission both hidden and refused."""

from __future__ import annotations

import pytest

from mes.auth.permissions import ROLES
from tests.mes.web.live import ended_stop

ROLE_NAMES_ZH = {"operator": "操作工", "supervisor": "班组长", "quality": "质检", "maintenance": "维修",
                 "manager": "经理", "admin": "管理员"}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_and_sees_the_line(live_plant, sign_in, role) -> None:
    page = sign_in(role, lang="zh_CN")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=zh_CN")
    assert page.locator(".user").inner_text() == f"{role} · {ROLE_NAMES_ZH[role]}"
    assert page.locator("h1").first.inner_text() == "Bottling line 1"
    page.close()


def test_a_visitor_who_is_not_signed_in_is_sent_to_the_sign_in_form(live_plant, browser) -> None:
    page = browser.new_page()
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    assert page.url == f"{live_plant.base_url}/login?next=/lines/line1%3Flang%3Den"
    assert page.locator("h1").inner_text() == "Sign in to LineBrain"
    page.close()


def test_an_operator_does_not_see_a_supervisor_action_and_the_server_refuses_it(live_plant, sign_in) -> None:
    stop = ended_stop(live_plant)
    page = sign_in("operator")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    stop_row = page.locator(f"details[data-event='{stop['id']}']")
    stop_row.locator("summary").click()
    assert stop_row.locator("button.reason-button").count() > 0, "operators give reasons"
    assert stop_row.locator("form.split").count() == 0, "splitting a stop is a supervisor's action"
    assert page.locator("form[action='/lines/line1/counts']").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(f"{live_plant.base_url}/lines/line1/stops/{stop['id']}/split",
                                form={"at": stop["middle"].isoformat() if "middle" in stop else
                                      (stop["start"] + (stop["end"] - stop["start"]) / 2).isoformat(),
                                      "csrf_token": token}, headers={"accept": "text/html"},
                                max_redirects=0)  # fmt: skip
    assert refused.status == 403
    assert "Not allowed" in refused.text()
    page.goto(f"{live_plant.base_url}/orders?lang=en")
    assert page.locator("form[method=post][action='/orders']").count() == 0
    created = page.request.post(f"{live_plant.base_url}/orders", form={
        "number": "OP-1", "line_id": "line1", "product_id": "lager05", "planned_quantity": "10",
        "csrf_token": token}, max_redirects=0)  # fmt: skip
    assert created.status == 403
    page.close()


def test_a_form_without_its_csrf_token_is_refused(live_plant, sign_in) -> None:
    stop = ended_stop(live_plant)
    page = sign_in("supervisor")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    answer = page.request.post(f"{live_plant.base_url}/lines/line1/stops/{stop['id']}/reason",
                               form={"reason_code": "cleaning"}, max_redirects=0)  # fmt: skip
    assert answer.status == 403
    page.close()
