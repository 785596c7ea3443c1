"""The shift calendar in the plant time zone: night shifts, DST, breaks, holidays, overrides."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from collectors.config.models import ShiftPattern
from mes.production import shifts
from mes.production.sync import sync_plant
from tests.mes.production.scenario import local, plant

THREE_SHIFT = ShiftPattern.model_validate({"id": "three-shift", "shifts": [
    {"name": "early", "start": "06:00", "end": "14:00", "breaks": [{"start": "10:00", "minutes": 30}]},
    {"name": "late", "start": "14:00", "end": "22:00"},
    {"name": "night", "start": "22:00", "end": "06:00", "breaks": [{"start": "02:00", "minutes": 20}]},
]})  # fmt: skip


@pytest.fixture
def synced(db: psycopg.Connection) -> psycopg.Connection:
    sync_plant(db, plant(), now=local("2026-03-20", "00:00"))
    return db


def test_night_shift_across_the_dst_change_is_one_hour_shorter(synced: psycopg.Connection) -> None:
    # Europe/Berlin springs forward on 2026-03-29 at 02:00.
    shifts.build_line_calendar(synced, "line1", THREE_SHIFT, "Europe/Berlin", date(2026, 3, 28), date(2026, 3, 28))
    rows = {r["name"]: r for r in shifts.list_shifts(synced, "line1", local("2026-03-28", "00:00"),
                                                        local("2026-03-29", "12:00"))}
    night = rows["night"]
    assert night["start"] == local("2026-03-28", "22:00")
    assert (night["end"] - night["start"]) == timedelta(hours=7)
    assert night["planned_downtime_seconds"] == 20 * 60
    assert rows["early"]["planned_downtime_seconds"] == 30 * 60


def test_holiday_removes_the_days_shifts(synced: psycopg.Connection) -> None:
    shifts.add_holiday(synced, date(2026, 3, 23), "Plant holiday", by="manager")
    shifts.build_line_calendar(synced, "line1", THREE_SHIFT, "Europe/Berlin", date(2026, 3, 23), date(2026, 3, 23))
    assert shifts.list_shifts(synced, "line1", local("2026-03-23", "00:00"), local("2026-03-23", "23:59")) == []


def test_extra_shift_override_may_not_overlap(synced: psycopg.Connection) -> None:
    from mes.errors import Conflict

    with pytest.raises(Conflict):
        shifts.add_extra_shift(synced, "line1", "extra", local("2026-03-20", "13:00"), local("2026-03-20", "15:00"),
                               "Europe/Berlin")
    sid = shifts.add_extra_shift(synced, "line1", "extra", local("2026-03-20", "22:00"),
                                 local("2026-03-21", "02:00"), "Europe/Berlin")
    assert shifts.shift_at(synced, "line1", local("2026-03-20", "23:00"))["id"] == sid
