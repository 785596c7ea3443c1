"""Each main page in both languages, photographed with the line running an order (written to
build/screenshots/; the best are kept in docs/screenshots/)."""

from __future__ import annotations

from mes.production import handover, orders
from tests.mes.web.live import db, ended_stop

PAGES = {"andon": "/andon", "line": "/lines/line1", "orders": "/orders", "oee": "/oee?period=day&by=shift",
         "admin": "/admin"}


def _running_order(live_plant) -> dict:
    with db(live_plant) as conn:
        running = orders.running_order(conn, "line1")
        if running is None:
            running = orders.create_order(conn, "SHOT-0001", "line1", "lager05", 12000, by="supervisor")
            orders.transition(conn, running["id"], "running", by="supervisor",
                              at=live_plant.sim.now)
        handover.add_note(conn, "line1", "Labeller glue pot refilled at 08:10; check again at 12:00.", "supervisor",
                          open_item=True, at=live_plant.sim.now)  # fmt: skip
        return running


def test_every_main_page_in_both_languages(live_plant, sign_in, screenshots) -> None:
    ended_stop(live_plant)
    order = _running_order(live_plant)
    for lang in ("zh_CN", "en"):
        page = sign_in("supervisor", lang=lang)
        for name, path in {**PAGES, "order": f"/orders/{order['id']}"}.items():
            page.goto(f"{live_plant.base_url}{path}{'&' if '?' in path else '?'}lang={lang}")
            assert page.locator("main h1").count() >= 1
            page.screenshot(path=str(screenshots / f"{name}-{lang}.png"), full_page=name != "andon")
        page.close()
        login = sign_in("operator", lang=lang)
        login.context.clear_cookies()
        login.goto(f"{live_plant.base_url}/login?lang={lang}")
        login.screenshot(path=str(screenshots / f"login-{lang}.png"))
        login.close()
