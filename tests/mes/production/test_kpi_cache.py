"""mes_kpi() from the hourly KPI cache gives the live timeline's figures, exactly.

mes_kpi() (what the API, pages and reports call) sums a line's cached whole hours and the live
rest; mes_kpi_live() computes the same window from the timeline alone. Here both are compared
column by column on the golden day (tests/mes/production/test_golden_kpis.py, hand-computed)
and on an hour with a counter glitch and no data, for every grouping, with windows whose edges
cut hours, after late data changed cached hours, and after the cache caught up again. The
hand-computed figures are checked on the cached path too."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from mes.production import derive, kpi, orders
from mes.production.counts import adjust_count
from tests.mes.production.scenario import RUNNING, SampleWriter, local, plant, state_series
from tests.mes.production.test_golden_kpis import day, expected, t  # noqa: F401  (day is a fixture)

GROUPINGS = ("period", "shift", "order", "product")


def fill_cache(db: psycopg.Connection, start: datetime, end: datetime) -> int:
    return int(db.execute("SELECT grafana.refresh_kpi_hours(100, %s, %s)", (start, end)).fetchone()[0])


def cached_hours(db: psycopg.Connection, start: datetime, end: datetime) -> int:
    """How many hours of the window mes_kpi() reads from the cache."""
    return int(db.execute("SELECT count(*) FROM grafana._kpi_slots('line1', %s, %s) WHERE cached",
                          (start, end)).fetchone()[0])  # fmt: skip


def assert_cached_equals_live(db: psycopg.Connection, start: datetime, end: datetime) -> None:
    for by in GROUPINGS:
        cached = kpi.kpis(db, "line1", start, end, by)
        live = kpi.kpis(db, "line1", start, end, by, live=True)
        assert cached == live, (by, start, end)


def test_the_golden_day_from_the_cache_is_the_live_and_hand_computed_day(
    db: psycopg.Connection, day: dict  # noqa: F811  (the golden day fixture)
) -> None:
    start, end = t("06:00"), t("22:00")
    assert cached_hours(db, start, end) == 0
    assert fill_cache(db, t("05:00"), t("23:00")) == 18
    assert cached_hours(db, start, end) == 16
    for window in ((start, end), (t("06:07"), t("21:53")), (t("09:30"), t("11:15"))):
        assert_cached_equals_live(db, *window)
    e = expected()
    k = kpi.period_kpi(db, "line1", start, end)
    for name in ("pot", "pdt", "pbt", "apt", "aust", "adet", "adot", "pq", "gq", "sq", "rq", "energy", "pq_no_data"):
        assert k[name] == pytest.approx(e[name]), name
    assert k["no_data_time"] == pytest.approx(e["unknown"])
    # The 09:50-10:40 fault spans three cached hours and the break: one failure, not three.
    assert k["failures"] == len(e["failures"]) == 3
    assert k["mttr"] == pytest.approx(sum(e["failures"]) / 3)
    assert k["minor_stops"] == 1
    assert (k["plausible"], k["implausible_reasons"]) == (False, ["units_in_no_data"])
    days = kpi.calendar_kpis(db, "line1", t("00:00"), t("00:00") + timedelta(days=1), "day")
    assert days == kpi.calendar_kpis(db, "line1", t("00:00"), t("00:00") + timedelta(days=1), "day", live=True)
    assert [d["group_label"] for d in days] == ["2026-03-02"] and days[0]["oee"] == k["oee"]
    by_shift = {row["group_label"]: row for row in kpi.kpis(db, "line1", start, end, "shift")}
    assert sorted(by_shift) == ["early 2026-03-02", "late 2026-03-02"]
    assert sum(row["pq"] for row in by_shift.values()) == pytest.approx(e["pq"])

    # Late data for closed, cached hours: a supervisor's count correction, and the state samples
    # of the 12:00-12:05 gap (a spool replayed after an outage), derived again.
    adjust_count(db, "line1", "reject", t("16:30"), 40, why="crate dropped at the packer", by="dave")
    writer = SampleWriter(db)
    state_series(writer, [(t("12:00"), t("12:05"), RUNNING)])
    writer.flush()
    derive.rederive(db, day["plant"], "line1", t("12:00"), now=t("22:00"))
    assert cached_hours(db, start, end) < 16  # the changed hours are computed live meanwhile
    late = kpi.period_kpi(db, "line1", start, end)
    # The gap's units are no longer apart: its rejects join SQ with the 40.
    assert late["sq"] == pytest.approx(e["sq"] + 40 + e["pq_no_data"] - e["good_no_data"])
    assert late["pq"] == pytest.approx(e["pq"] + 40 + e["pq_no_data"])
    assert late["no_data_time"] == 0 and late["pq_no_data"] == 0 and late["plausible"]
    assert late["apt"] == pytest.approx(e["apt"] + e["unknown"])
    assert_cached_equals_live(db, start, end)
    fill_cache(db, t("05:00"), t("23:00"))
    assert cached_hours(db, start, end) == 16
    assert kpi.period_kpi(db, "line1", start, end) == late
    assert_cached_equals_live(db, t("06:07"), t("21:53"))


T1 = local("2026-03-05", "06:00")  # the early shift (06:00-14:00 Europe/Berlin)


def test_a_counter_glitch_and_no_data_stay_flagged_from_the_cache(db: psycopg.Connection) -> None:
    """The issue-13 case: a glitch read of 0 in a running counter (39,000 ... 0 ... on) once made
    OEE 6,717%. It must still be a data-quality event, not units, on the cached path; and an hour
    with no state data (before the first sample) stays no data, its units apart."""
    p = plant()
    derive.run_once(db, p, now=T1 - timedelta(hours=1))
    order = orders.create_order(db, "G-1", "line1", "lager", 100_000, by="planner")
    orders.transition(db, order["id"], "running", "ann", at=T1)
    writer = SampleWriter(db)
    state_series(writer, [(T1 + timedelta(hours=1), T1 + timedelta(hours=3, seconds=1), RUNNING)])
    for minute in range(30, 181):  # 06:30-09:00, 100 good a minute
        at = T1 + timedelta(minutes=minute)
        writer.add("good", at, 0 if at == T1 + timedelta(hours=2, minutes=20) else 39_000 + 100 * (minute - 30))
    writer.flush()
    assert derive.run_once(db, p, now=T1 + timedelta(hours=3)).errors == []
    start, end = T1, T1 + timedelta(hours=3)
    assert fill_cache(db, start, end) == 3 and cached_hours(db, start, end) == 3
    k = kpi.period_kpi(db, "line1", start, end)
    # By hand: 06:00-07:00 no data (3,000 units counted in it, not in PQ); 07:00-09:00 running,
    # 12,000 good (the glitch is skipped), PRU 0.5 s: effectiveness 6,000 / 7,200.
    assert (k["pot"], k["no_data_time"], k["pbt"], k["apt"]) == (10_800, 3600, 7200, 7200)
    assert (k["pq"], k["gq"], k["pq_no_data"]) == (12_000, 12_000, 3000)
    assert k["oee"] == pytest.approx(6000 / 7200)
    assert k["data_quality_events"] == 1
    assert k["implausible_reasons"] == ["units_in_no_data", "data_quality_events"] and not k["plausible"]
    no_data_hour = kpi.period_kpi(db, "line1", start, start + timedelta(hours=1))
    assert (no_data_hour["pbt"], no_data_hour["no_data_time"], no_data_hour["oee"]) == (0, 3600, None)
    for window in ((start, end), (start + timedelta(minutes=10), end - timedelta(minutes=10)),
                   (start, start + timedelta(hours=1))):
        assert_cached_equals_live(db, *window)
    # A stop across an hour's end that grows past the micro-stop threshold (30 s) after its first
    # hour was cached (derivation lagging behind): it is no longer a minor stop in that hour either.
    stop = db.execute("INSERT INTO downtime_events (equipment_id, line_id, period, kind, state) "
                      "VALUES ('line1', 'line1', tstzrange(%s, %s), 'stop', 'fault') RETURNING id",
                      (T1 + timedelta(hours=2, seconds=-10), T1 + timedelta(hours=2, seconds=10))).fetchone()[0]
    fill_cache(db, start, end)
    assert kpi.period_kpi(db, "line1", start, end)["minor_stops"] == 1
    db.execute("UPDATE downtime_events SET period = tstzrange(lower(period), %s) WHERE id = %s",
               (T1 + timedelta(hours=2, seconds=60), stop))
    assert kpi.period_kpi(db, "line1", start, end)["minor_stops"] == 0
    assert_cached_equals_live(db, start, end)
