"""Report periods in plant time: local midnights (a DST day has 23 hours), ISO weeks from Monday,
months; the last closed period when no day is given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from mes.production import derive
from mes.reports.periods import calendar_period, closed_periods, report_period
from tests.mes.production.scenario import local, plant


def test_days_weeks_and_months_run_from_local_midnight() -> None:
    spring = calendar_period("line1", "day", date(2026, 3, 29), "Europe/Berlin")  # clocks go forward
    assert spring.end - spring.start == timedelta(hours=23) and spring.label == "2026-03-29"
    week = calendar_period("line1", "week", date(2026, 3, 4), "Europe/Berlin")
    assert (week.label, week.start, week.key) == ("2026-W10", local("2026-03-02", "00:00"), "week:line1:2026-W10")
    month = calendar_period("line1", "month", date(2026, 2, 14), "Europe/Berlin")
    assert (month.start, month.end) == (local("2026-02-01", "00:00"), local("2026-03-01", "00:00"))


def test_the_last_closed_period_and_the_closed_ones_of_a_window(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=local("2026-03-04", "05:00"))
    now = local("2026-03-04", "15:00")
    assert report_period(db, "line1", "shift", now=now).label == "2026-03-04 early"
    assert report_period(db, "line1", "day", now=now).label == "2026-03-03"
    assert report_period(db, "line1", "week", now=now).label == "2026-W09"
    assert report_period(db, "line1", "month", now=now).label == "2026-02"
    shifts = closed_periods(db, "line1", "shift", local("2026-03-04", "13:00"), local("2026-03-04", "22:00"))
    assert [p.label for p in shifts] == ["2026-03-04 early", "2026-03-04 late"]
    days = closed_periods(db, "line1", "day", datetime(2026, 3, 1, tzinfo=UTC), now)
    assert [p.label for p in days] == ["2026-03-01", "2026-03-02", "2026-03-03"]
