"""The pages' pure parts: formats, periods, charts; and the handover notes in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from mes.errors import Conflict, InvalidInput
from mes.production import handover
from mes.web import charts, periods
from mes.web.i18n import Formats
from tests.mes.production.scenario import local, plant


def test_durations_read_as_the_plant_says_them() -> None:
    zh, en = Formats("zh_CN", "Asia/Shanghai"), Formats("en", "Asia/Shanghai")
    assert en.duration(3900) == "1 h 05 min" and zh.duration(3900) == "1小时05分"
    assert en.duration(59.6) == "1 min" and zh.duration(600) == "10分" and en.duration(7) == "7 s"
    assert en.duration(-5) == "0 s" and en.duration(None) == "–"


def test_times_are_plant_local_on_a_24_hour_clock() -> None:
    moment = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)
    assert Formats("zh_CN", "Asia/Shanghai").datetime(moment) == "2026年3月5日 07:30"
    assert Formats("en", "Europe/Berlin").datetime(moment) == "2026-03-05 00:30"
    assert Formats("en", "UTC").percent(0.8534) == "85.3%"


def test_periods_are_whole_plant_local_days_weeks_and_months() -> None:
    now = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
    week = periods.choose("week", "2026-03-04", None, None, "Europe/Berlin", now)
    assert (week.first, week.last) == (date(2026, 3, 2), date(2026, 3, 8))
    assert week.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC) and week.end == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
    month = periods.choose("month", "2026-02-10", None, None, "UTC", now)
    assert (month.first, month.last) == (date(2026, 2, 1), date(2026, 2, 28))
    today = periods.choose("day", None, None, None, "UTC", now)
    assert today.end == now, "the current day ends now"
    with pytest.raises(InvalidInput) as bad:
        periods.choose("custom", None, "2026-03-05", "2026-03-01", "UTC", now)
    assert bad.value.field == "end"


def test_the_waterfall_hangs_each_loss_from_the_total_before_it() -> None:
    steps = [{"name": "planned_busy_time", "kind": "total", "seconds": 1000.0},
             {"name": "availability_loss", "kind": "loss", "seconds": 200.0},
             {"name": "actual_production_time", "kind": "total", "seconds": 800.0}]  # fmt: skip
    pbt, loss, apt = charts.waterfall(steps)["bars"]
    assert (pbt["y"], pbt["h"]) == (0, 100) and (loss["y"], loss["h"]) == (0, 20) and (apt["y"], apt["h"]) == (20, 80)
    assert loss["share"] == 0.2


def test_the_timeline_places_intervals_on_the_window() -> None:
    start = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    chart = charts.timeline([{"start": start + timedelta(hours=2), "end": start + timedelta(hours=4),
                              "state": "fault", "fault_code": None}], start, start + timedelta(hours=8))  # fmt: skip
    (bar,) = chart["bars"]
    assert (bar["x"], bar["w"], bar["class"]) == (250.0, 250.0, "stop")
    assert [t["at"].hour for t in chart["ticks"]] == [7, 8, 9, 10, 11, 12, 13]


def test_open_items_stay_until_closed_and_notes_are_kept(db: psycopg.Connection) -> None:
    from mes.production import derive

    derive.run_once(db, plant(), now=local("2026-03-04", "06:00"))
    at = local("2026-03-04", "13:50")
    handover.add_note(db, "line1", "filler nozzle 4 drips", "erin", open_item=True, at=at)
    note = handover.add_note(db, "line1", "ran 3 pallets of lager", "erin", at=at)
    assert note["shift_name"] == "early"
    board = handover.handover(db, "line1", at + timedelta(hours=1))
    assert [n["note"] for n in board["open_items"]] == ["filler nozzle 4 drips"]
    closed = handover.close_item(db, board["open_items"][0]["id"], "fred", at + timedelta(hours=2))
    assert closed["closed_by"] == "fred"
    assert handover.handover(db, "line1", at + timedelta(hours=3))["open_items"] == []
    with pytest.raises(Conflict):
        handover.close_item(db, closed["id"], "fred")
    with pytest.raises(InvalidInput):
        handover.add_note(db, "line1", "   ", "erin")
