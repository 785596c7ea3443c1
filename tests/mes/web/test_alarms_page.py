"""The alarms page in a real browser: an operator acknowledges a high alarm with one tap and the row says so,
in Chinese and English (screenshots of both)."""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.engine import AlarmEngine
from tests.mes.alarms.test_api import plant
from tests.mes.web.live import db


def test_an_operator_acknowledges_an_alarm_on_the_page(live_plant, sign_in, screenshots) -> None:
    engine = AlarmEngine(plant())
    with db(live_plant) as conn:
        ids = store.sync_points(conn, engine.conditions)
        with conn.transaction():
            for change in engine.evaluate([Sample("oil", datetime.now(UTC), 93.5)]):
                store.record_change(conn, ids[change.condition.key], change)
    page = sign_in("operator", lang="zh_CN")
    page.goto(f"{live_plant.base_url}/alarms?lang=zh_CN")
    row = page.locator("tr[data-alarm]").filter(has_text="oil_hot")
    assert "未确认" in row.inner_text()
    page.screenshot(path=str(screenshots / "alarms-zh_CN.png"), full_page=True)
    assert page.locator("text=搁置").count() == 0, "an operator may not shelve: no shelve form"
    row.locator("button", has_text="确认").click()
    page.wait_for_url(f"{live_plant.base_url}/alarms")
    assert "已确认" in page.locator("tr[data-alarm]").filter(has_text="oil_hot").inner_text()
    english = sign_in("supervisor", lang="en")
    english.goto(f"{live_plant.base_url}/alarms?lang=en")
    assert "Acknowledged" in english.locator("tr[data-alarm]").filter(has_text="oil_hot").inner_text()
    assert english.locator("button", has_text="Shelve").count() >= 1
    english.screenshot(path=str(screenshots / "alarms-en.png"), full_page=True)
    with db(live_plant) as conn:
        [alarm] = [a for a in store.active_alarms(conn) if a["rule"] == "oil_hot"]
        assert alarm["acknowledged_by"] == "operator"
