"""The manager's additions to the OEE report in a real browser: first pass yield and scrap per
line, the order on-time rate, and the downtime Pareto's drill-down to the stops behind a bar."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from mes.production import kpi, orders, period_report
from mes.web import periods
from simulator.brewery import TIMEZONE
from tests.mes.web.live import db, ended_stop, shift_morning


def test_a_pareto_bar_opens_the_stops_behind_it_in_both_languages(live_plant, sign_in, screenshots) -> None:
    ended_stop(live_plant)
    morning = shift_morning(live_plant.sim.now)  # the simulator started here: before it, no order ran
    with db(live_plant) as conn:
        late = orders.create_order(conn, "MGR-LATE", "line1", "pils033", 10, by="test",
                                   due_at=morning - timedelta(hours=2))
        running = orders.running_order(conn, "line1")
        if running:  # one running order per line: hold it for the instant the past order is booked
            orders.transition(conn, running["id"], "paused", "test", at=live_plant.sim.now)
        orders.transition(conn, late["id"], "running", "test", at=morning - timedelta(hours=3))
        orders.transition(conn, late["id"], "completed", "test", at=morning - timedelta(minutes=90))
        if running:
            orders.transition(conn, running["id"], "running", "test", at=live_plant.sim.now)
    for lang in ("en", "zh_CN"):
        page = sign_in("manager", lang=lang, width=1280, height=900)
        page.goto(f"{live_plant.base_url}/oee?line=line1&period=day&by=shift&lang={lang}")
        assert page.locator("table.yield tbody tr").count() == len(page.locator("select[name=line] option").all())
        stops = page.locator("table.pareto a.drill:not([href$='reason=no_data'])")  # a bar of real stops
        assert stops.count() >= 1, "the line has stopped today"
        stops.first.click()
        page.wait_for_selector("table.stops-behind")
        reason = page.url.split("reason=")[1].split("&")[0]
        page.screenshot(path=str(screenshots / f"oee-stops-{lang}.png"), full_page=True)
        with db(live_plant) as conn:  # what the page was drawn from, read again now the page is shown
            choice = periods.choose("day", None, None, None, TIMEZONE, live_plant.sim.now)
            code = next(b["reason_code"] for b in kpi.downtime_pareto(conn, "line1", choice.start, choice.end)
                        if b["reason_code"].replace(":", "%3A") == reason)
            expected = period_report.pareto_stops(conn, "line1", choice.start, choice.end, code)
        shown = page.locator("table.stops-behind tbody tr").count()
        assert abs(shown - len(expected)) <= 1, "the stops behind the bar (one may end while the page loads)"
        csv_link = page.locator("a.download[href^='/oee/stops.csv']").get_attribute("href")
        response = page.request.get(f"{live_plant.base_url}{csv_link}")
        rows = list(csv.DictReader(io.StringIO(response.text().lstrip("\ufeff"))))
        assert abs(len(rows) - len(expected)) <= 1 and {"event_start", "seconds"} <= set(rows[0])
        page.close()

    page = sign_in("manager", lang="en", width=1280, height=900)
    page.goto(f"{live_plant.base_url}/oee?line=line1&period=day&lang=en")
    delivery = page.locator("table.delivery tbody").inner_text()
    assert "MGR-LATE" in delivery and "Late by 30 min" in delivery
    page.screenshot(path=str(screenshots / "oee-delivery-en.png"), full_page=True)
    page.close()
