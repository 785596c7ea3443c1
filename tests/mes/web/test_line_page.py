"""The supervisor's line page: in a real browser against the live simulated line, and rendered by the
server over a hand-computed hour (the root cause of a stop)."""

from __future__ import annotations

import re

from mes.production import downtime
from tests.mes.web.live import db, ended_stop


def test_supervisor_gives_a_real_stop_its_reason_in_two_taps_and_can_undo(live_plant, sign_in) -> None:
    stop = ended_stop(live_plant)
    page = sign_in("supervisor", width=1024, height=768)
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    page.click(f"details[data-event='{stop['id']}'] > summary")  # tap 1: the stop
    page.click(f"details[data-event='{stop['id']}'] button[value='cleaning']")  # tap 2: the reason
    page.wait_for_selector("#undo")
    with db(live_plant) as conn:
        assert downtime.get_event(conn, stop["id"])["reason_code"] == "cleaning"
    assert page.locator(f"details[data-event='{stop['id']}'] .stop-reason").inner_text().startswith("Cleaning")

    page.click("#undo button")
    page.wait_for_selector(".msg")
    with db(live_plant) as conn:
        assert downtime.get_event(conn, stop["id"])["reason_code"] == stop["reason_code"]
    page.close()


def test_the_undo_offer_disappears_after_ten_seconds(live_plant, sign_in) -> None:
    stop = ended_stop(live_plant)
    page = sign_in("supervisor", width=1024, height=768)
    page.clock.install()
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    page.click(f"details[data-event='{stop['id']}'] > summary")
    page.click(f"details[data-event='{stop['id']}'] button[value='no_bottles']")
    assert page.locator("#undo").is_visible()
    page.clock.run_for(9_000)
    assert page.locator("#undo").is_visible()
    page.clock.run_for(1_500)
    assert not page.locator("#undo").is_visible()
    page.close()


def test_supervisor_splits_a_real_stop_in_two(live_plant, sign_in) -> None:
    stop = ended_stop(live_plant)
    page = sign_in("supervisor", width=1024, height=768)
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    page.click(f"details[data-event='{stop['id']}'] > summary")
    page.click(f"details[data-event='{stop['id']}'] form.split button")
    page.wait_for_selector(".msg")
    assert "split in two" in page.locator(".msg").inner_text()
    with db(live_plant) as conn:
        halves = [e for e in downtime.list_events(conn, "line1", stop["start"], stop["end"], kind="stop")
                  if e["source"] == "split" and stop["start"] <= e["start"] < stop["end"]]
    assert len(halves) == 2
    assert halves[0]["start"] == stop["start"] and halves[1]["end"] == stop["end"]
    assert halves[0]["end"] == halves[1]["start"]
    page.close()


def test_line_page_fits_a_tablet_with_large_touch_targets(live_plant, sign_in) -> None:
    page = sign_in("supervisor", width=1024, height=768)
    page.goto(f"{live_plant.base_url}/lines/line1?lang=zh_CN")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    small = page.evaluate("""() => [...document.querySelectorAll('main button, main summary, main input, main select')]
        .filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect())
        .filter(r => r.height < 48).length""")
    assert small == 0
    tiny = page.evaluate("""() => [...document.querySelectorAll('main *')].filter(e => e.offsetParent !== null
        && e.childNodes.length && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())
        && parseFloat(getComputedStyle(e).fontSize) < 16).map(e => e.textContent.trim().slice(0, 30))""")
    assert tiny == []
    page.close()


def test_the_line_head_follows_the_line_live(live_plant, sign_in) -> None:
    from tests.mes.web.live import wait_for

    page = sign_in("supervisor")
    page.goto(f"{live_plant.base_url}/lines/line1?lang=en")
    head = page.locator("#line-live .state")
    wait_for(lambda: head.get_attribute("data-state") not in (None, "unknown"), 20, what="the line with data")
    try:
        live_plant.call(lambda: live_plant.sim.power("filler", False))
        wait_for(lambda: page.locator("#line-live .state").get_attribute("data-state") == "unknown", 5,
                 every=0.1, what="the head to show no data")  # fmt: skip
        assert page.locator("#line-live .state").inner_text() == "No data"
    finally:
        live_plant.call(lambda: live_plant.sim.power("filler", True))
    page.close()


def test_a_stop_shows_the_machine_it_is_attributed_to_and_offers_its_reason_first(db_url) -> None:
    """The hand-computed hour of tests/mes/production/test_root_cause.py: the line's 07:22-07:30
    stop is the labeller's fault 305, whose reason in the line's tree is the label jam."""
    import psycopg
    from fastapi.testclient import TestClient

    from mes.api import create_app
    from mes.production import derive
    from tests.mes.auth.helpers import add_user, sign_in
    from tests.mes.production.test_root_cause import at, line_plant, write_hour

    plant = line_plant()
    with psycopg.connect(db_url, autocommit=True) as conn:
        derive.run_once(conn, plant, now=at(-60))
        write_hour(conn)
        derive.run_once(conn, plant, now=at(60))
        event = conn.execute("SELECT id FROM downtime_events WHERE equipment_id = 'line1' AND lower(period) = %s",
                             (at(22),)).fetchone()[0]  # fmt: skip
        add_user(conn, "sam", "supervisor")
    app = create_app(db_url)
    app.state.clock = lambda: at(60)
    with TestClient(app, base_url="http://localhost") as client:
        assert sign_in(client, "sam").status_code == 303
        for lang, words in (("en", "labeller · fault 305"), ("zh_CN", "labeller · 故障 305")):
            page = client.get("/lines/line1", params={"lang": lang})
            assert page.status_code == 200
            stop = page.text.split(f'data-event="{event}"')[1].split("</details>")[0]
            summary = stop.split("</summary>")[0]
            assert words in re.sub(r"<[^>]+>", "", summary) and '<span translate="no">labeller</span>' in summary
            buttons = re.findall(r'<button class="reason-button[^"]*" name="reason_code" value="([^"]+)"', stop)
            assert buttons[0] == "label_jam" and 'class="reason-button suggested"' in stop
            assert sorted(buttons) == ["label_jam", "washer_drive"]  # every reason still offered, once
