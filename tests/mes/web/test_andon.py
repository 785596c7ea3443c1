"""The andon board follows the line live: a tile changes within 2 s of the line stopping."""

from __future__ import annotations

import time

from tests.mes.web.live import wait_for


def test_a_tile_changes_within_two_seconds_after_the_simulator_stops_the_filler(live_plant, sign_in,
                                                                                 screenshots) -> None:
    page = sign_in("supervisor", width=1280, height=800)
    page.goto(f"{live_plant.base_url}/andon?lang=zh_CN")
    tile = page.locator(".tile[data-line=line1]")
    wait_for(lambda: tile.get_attribute("data-state") not in (None, "unknown"), 20, what="line1 with data")
    try:
        stopped_at = time.monotonic()
        live_plant.call(lambda: live_plant.sim.power("filler", False))
        wait_for(lambda: page.locator(".tile[data-line=line1]").get_attribute("data-state") == "unknown", 5,
                 every=0.05, what="the tile to show no data")  # fmt: skip
        elapsed = time.monotonic() - stopped_at
        print(f"andon tile changed {elapsed:.2f} s after the filler stopped")
        assert elapsed < 2.0, f"the tile changed after {elapsed:.2f} s"
        assert page.locator(".tile[data-line=line1] .tile-state").inner_text().startswith("无数据")
        page.screenshot(path=str(screenshots / "andon-stopped-zh_CN.png"))
    finally:
        live_plant.call(lambda: live_plant.sim.power("filler", True))
    wait_for(lambda: page.locator(".tile[data-line=line1]").get_attribute("data-state") != "unknown", 10,
             what="the tile to recover")  # fmt: skip
    page.close()


def test_last_update_turns_red_when_the_feed_stops(live_plant, sign_in) -> None:
    page = sign_in("supervisor", width=1280, height=800)
    page.goto(f"{live_plant.base_url}/andon?lang=en")
    stamp = page.locator("#last-update")
    wait_for(lambda: stamp.locator("time").inner_text() != "", 5, what="a first update")
    assert "stale" not in (stamp.get_attribute("class") or "")
    page.route("**/andon/events", lambda route: route.abort())
    page.evaluate("window.stop()")  # ends the open event stream; reconnects are refused
    wait_for(lambda: "stale" in (stamp.get_attribute("class") or ""), 10, what="the stale mark")
    assert stamp.locator(".stale-text").is_visible()
    page.close()
