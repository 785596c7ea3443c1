"""The job-shop pages in chromium, in both languages: an order of the simulated garment plant
half-way through its 12 operations, its tracking page, the scan station driven like a
keyboard-wedge scanner (the code typed, then Enter), and a share link opened without signing in."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import uvicorn

from mes.api import create_app
from mes.auth import users
from mes.production.sync import sync_plant
from mes.routing import flow, simulated
from simulator.garment import GarmentPlant, garment_operations
from tests.conftest import create_database, drop_database, free_port
from tests.mes.auth.helpers import PASSWORD, sign_in_page
from tests.mes.web.conftest import SCREENSHOTS
from tests.mes.web.test_languages import NOT_WORDS, VISIBLE_TEXT


@dataclass
class Shop:
    url: str
    base_url: str
    plant: GarmentPlant
    order_id: int
    moment: float


@pytest.fixture(scope="module")
def shop(pg_server, template_name) -> Iterator[Shop]:
    """A served garment shop: order G-4711 (1,200 pieces, 12 operations, bundles of 20) with the
    scans of its first 40% of time, the pages' clock stopped there."""
    url = create_database(pg_server, "routing_pages", template_name)
    plant = GarmentPlant(quantity=1200, operations=garment_operations(sewing=9), seed=3)
    plant.run("G-4711")
    moment = plant.end() * 0.4
    with psycopg.connect(url, autocommit=True) as conn:
        sync_plant(conn, simulated.garment_config(), now=plant.start)
        order = simulated.load_order(conn, plant, "G-4711", by="planner")
        simulated.feed_scans(conn, [s for s in plant.scans if s.elapsed <= moment])
        for role in ("supervisor", "operator"):
            users.add_user(conn, role, role, PASSWORD, actor="test-setup")
    app = create_app(url)
    app.state.clock = lambda: plant.at(moment)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield Shop(url, f"http://127.0.0.1:{port}", plant, order["id"], moment)
    server.should_exit = True
    thread.join(10)
    drop_database(pg_server, url)


def signed_in(browser: Any, shop: Shop, role: str, lang: str) -> Any:
    return sign_in_page(browser, shop.base_url, role, lang, viewport={"width": 1280, "height": 900})


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_tracking_page_shows_each_operation_its_wip_the_bottleneck_and_the_risk(browser, shop: Shop,
                                                                                    lang: str) -> None:
    with psycopg.connect(shop.url) as conn:
        truth = flow.tracking(conn, shop.order_id, shop.plant.at(shop.moment))
    page = signed_in(browser, shop, "supervisor", lang)
    page.goto(f"{shop.base_url}/routing/orders/{shop.order_id}?lang={lang}")
    rows = page.locator("table.ops tbody tr")
    assert rows.count() == 12
    shown = {int(r.get_attribute("data-seq")): r.locator("td.wip .wip-n").inner_text() for r in rows.all()}
    assert {seq: int(re.sub(r"\D", "", text)) for seq, text in shown.items()} == {
        f["seq"]: int(f["wip"]) for f in truth["operations"]}
    assert truth["bottleneck"] is not None
    bottleneck = page.locator("tr.bottleneck")
    assert bottleneck.get_attribute("data-seq") == str(truth["bottleneck"]["seq"])
    assert page.locator(".risk").first.is_visible()
    if lang == "zh_CN":
        words = {w for text in page.evaluate(VISIBLE_TEXT) for w in re.findall(r"[A-Za-z]{2,}", text)}
        assert words - NOT_WORDS == set()
        assert "瓶颈" in page.content() and "在制品" in page.content()
    else:
        assert "Bottleneck" in page.content()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"routing-order-{lang}.png"), full_page=True)
    page.context.close()


def test_the_scan_station_takes_a_keyboard_wedge_scan_once(browser, shop: Shop) -> None:
    waiting = max((s for s in shop.plant.scans if s.seq == 120), key=lambda s: s.elapsed)  # the last to pack
    assert waiting.elapsed > shop.moment
    page = signed_in(browser, shop, "operator", "zh_CN")
    page.goto(f"{shop.base_url}/scan?centre=st12&lang=zh_CN")
    page.fill("input[name=operator]", "op12")
    page.focus("input[name=code]")
    page.keyboard.type(f"{waiting.bundle}\n")  # what a scanner in keyboard mode sends
    page.wait_for_url(re.compile(r"msg=scan_"))
    result = page.locator(".scan-result")
    assert "sr-scan_out_of_sequence" in (result.get_attribute("class") or "")  # not through finishing yet
    assert page.locator("input[name=code]").evaluate("el => el === document.activeElement")  # ready for the next
    assert page.locator("input[name=operator]").input_value() == "op12"
    page.screenshot(path=str(SCREENSHOTS / "routing-scan-zh_CN.png"), full_page=True)
    page.keyboard.type(f"{waiting.bundle}\n")
    page.wait_for_url(re.compile(r"msg=scan_duplicate"))
    assert "已扫描过" in page.locator(".scan-result").inner_text()
    page.context.close()


def test_a_share_link_opens_without_signing_in_and_dies_when_revoked(browser, shop: Shop) -> None:
    page = signed_in(browser, shop, "supervisor", "en")
    page.goto(f"{shop.base_url}/routing/orders/{shop.order_id}?lang=en")
    page.click("button[data-action=share]")
    link = page.locator("input.share-url").input_value()
    assert "/share/" in link
    stranger = browser.new_context(locale="en-US").new_page()
    stranger.goto(f"{link}?lang=en")
    assert stranger.locator("table.ops tbody tr").count() == 12
    assert stranger.locator("nav").count() == 0 and stranger.locator("form").count() == 0  # nothing else
    stranger.screenshot(path=str(SCREENSHOTS / "routing-share-en.png"), full_page=True)
    page.goto(f"{shop.base_url}/routing/orders/{shop.order_id}?lang=en")
    page.click("button[data-action=revoke]")
    assert stranger.goto(link).status == 404
    assert "revoked" in stranger.content()
    stranger.context.close()
    page.context.close()


def test_the_order_page_of_a_routed_order_shows_its_last_operation_and_links_to_tracking(browser,
                                                                                       shop: Shop) -> None:
    """A routed order makes no line counts: its lifecycle page shows the good pieces out of its last
    operation (what the tracking page counts as done), not the line counter's 0, and links there."""
    with psycopg.connect(shop.url) as conn:
        truth = flow.tracking(conn, shop.order_id, shop.plant.at(shop.moment))
    done = int(truth["operations"][-1]["good"])
    assert 0 < done < truth["order"]["planned_quantity"]  # half-way: a wrong 0 or 100% would show
    page = signed_in(browser, shop, "supervisor", "en")
    page.goto(f"{shop.base_url}/orders/{shop.order_id}?lang=en")
    text = page.locator(".progress-text").inner_text()
    assert f"{done:,} of {truth['order']['planned_quantity']:,.0f} good" in text
    link = page.locator("a.tracking-link")
    assert link.get_attribute("href") == f"/routing/orders/{shop.order_id}"
    link.click()
    page.wait_for_url(re.compile(rf"/routing/orders/{shop.order_id}"))
    assert page.locator("table.ops tbody tr").count() == 12
    page.context.close()
