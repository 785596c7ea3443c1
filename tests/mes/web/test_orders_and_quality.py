"""Orders through their lifecycle and an inspection out of limit, in a real browser."""

from __future__ import annotations

from mes.production import orders
from mes.quality import inspections, specs
from tests.mes.web.live import db


def test_supervisor_creates_starts_and_completes_an_order(live_plant, sign_in) -> None:
    page = sign_in("supervisor", width=1024, height=768)
    page.goto(f"{live_plant.base_url}/orders?lang=en")
    page.fill("input[name=number]", "WEB-0001")
    page.select_option("select[name=line_id]", "line1")
    page.select_option("select[name=product_id]", "pils033")
    page.fill("input[name=planned_quantity]", "2400")
    page.click("form[method=post][action='/orders'] button")
    page.wait_for_selector("button[data-action=start]")
    assert page.locator(".status").first.inner_text() == "Planned"

    page.click("button[data-action=start]")
    page.wait_for_selector("button[data-action=complete]")
    assert page.locator("h1 .status").inner_text() == "In progress"
    with db(live_plant) as conn:
        order = orders.find_order(conn, "WEB-0001")
        assert order["status"] == "running"
        assert orders.running_order(conn, "line1")["number"] == "WEB-0001"

    page.click("button[data-action=complete]")
    page.wait_for_selector("h1 .st-completed")
    assert page.locator("button[data-action]").count() == 0, "a completed order offers no action"
    with db(live_plant) as conn:
        steps = [(t["from_status"], t["to_status"]) for t in orders.transitions(conn, order["id"])]
    assert steps == [(None, "planned"), ("planned", "running"), ("running", "completed")]
    page.close()


def test_an_out_of_limit_value_is_flagged_as_typed_and_when_saved(live_plant, sign_in) -> None:
    with db(live_plant) as conn:
        spec = specs.create_spec(conn, specs.SpecIn(product_id="lager05", line_id="line1",
                                                    characteristic="Fill volume", unit="ml", target=500.0,
                                                    lsl=495.0, usl=505.0))  # fmt: skip
        order = orders.create_order(conn, "WEB-QC-1", "line1", "lager05", 1000, by="test")
        orders.transition(conn, order["id"], "running", by="test", at=live_plant.sim.now)
    page = sign_in("supervisor", width=1024, height=768)
    page.goto(f"{live_plant.base_url}/lines/line1?lang=zh_CN")
    form = page.locator(f"form.inspection:has(input[name=spec_id][value='{spec['id']}'])").first
    assert "495" in form.locator(".band").inner_text() and "505" in form.locator(".band").inner_text()
    values = form.locator("input[name=values]")
    values.type("501")
    assert not form.locator(".limit-flag").is_visible()
    values.fill("")
    values.type("507.5")
    assert form.locator(".limit-flag").is_visible(), "flagged before saving"
    assert form.locator(".limit-flag").inner_text() == "超出限值"
    form.locator("button").click()
    page.wait_for_selector(".msg")
    assert "超出限值" in page.locator(".msg").inner_text()
    with db(live_plant) as conn:
        (record,) = inspections.list_records(conn, spec_id=spec["id"])
        assert record["measurements"] == [507.5] and record["nonconforming"] == 1 and not record["passed"]
        orders.transition(conn, order["id"], "completed", by="test", at=live_plant.sim.now)
    page.close()
