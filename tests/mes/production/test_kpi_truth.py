"""KPI truth on messy data: bounded OEE, plausibility flags, no-data time, rework, adjustments.

Every expected number is worked out here by hand from the scenario (ISO 22400-2 formulas),
never read back from the SQL."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from mes.cli import app
from mes.errors import InvalidInput
from mes.production import derive, kpi, orders
from mes.production.counts import adjust_count
from tests.mes.production.scenario import FAULT, RUNNING, SampleWriter, local, plant, state_series

T0 = local("2026-03-04", "07:00")  # inside the early shift (06:00-14:00 Europe/Berlin, break 10:00-10:30)
HOUR = (T0, T0 + timedelta(hours=1))
runner = CliRunner(env={"COLUMNS": "80"})


def _hour_of(db: psycopg.Connection, state: int, good_per_minute: int, planned: float = 10_000) -> dict:
    """One hour of lager (PRU 0.5 s) in order W-1 with the state tag at ``state`` throughout."""
    derive.run_once(db, plant(), now=T0 - timedelta(hours=2))
    order = orders.create_order(db, "W-1", "line1", "lager", planned, by="planner")
    orders.transition(db, order["id"], "running", "ann", at=T0)
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(hours=1, seconds=1), state)])
    for minute in range(61):
        writer.add("good", T0 + timedelta(minutes=minute), good_per_minute * minute)
    writer.flush()
    assert derive.run_once(db, plant(), now=HOUR[1]).errors == []
    return order


def test_oee_is_zero_when_nothing_ran_even_with_units_counted(db: psycopg.Connection) -> None:
    _hour_of(db, FAULT, good_per_minute=10)
    k = kpi.period_kpi(db, "line1", *HOUR)
    assert (k["pbt"], k["apt"], k["pq"]) == (3600, 0, 600)
    assert k["oee"] == 0  # availability 0 x ...; not PRU x GQ / PBT = 0.083
    assert k["effectiveness"] is None
    assert k["plausible"] is False and k["implausible_reasons"] == ["units_without_apt"]


def test_effectiveness_above_one_is_flagged_in_kpis_waterfall_and_cli(db: psycopg.Connection, db_url: str) -> None:
    _hour_of(db, RUNNING, good_per_minute=150)  # 9,000 units at 0.5 s = 4,500 s of ideal time in 3,600 s
    k = kpi.period_kpi(db, "line1", *HOUR)
    assert k["effectiveness"] == pytest.approx(4500 / 3600)
    assert k["oee"] == pytest.approx(1.0 * 4500 / 3600 * 1.0)  # A x E x Q
    assert k["implausible_reasons"] == ["effectiveness_above_1"] and not k["plausible"]
    steps = {s["name"]: s for s in kpi.oee_waterfall(db, "line1", *HOUR)}
    assert steps["performance_loss"]["seconds"] == pytest.approx(3600 - 4500)
    assert all(not s["plausible"] and s["implausible_reasons"] == ["effectiveness_above_1"] for s in steps.values())
    grafana = db.execute("SELECT plausible, implausible_reasons, oee FROM grafana.kpi('line1', %s, %s)",
                         HOUR).fetchone()  # fmt: skip
    assert grafana == (False, ["effectiveness_above_1"], pytest.approx(4500 / 3600))
    waterfall = db.execute("SELECT DISTINCT plausible FROM grafana.loss_waterfall('line1', %s, %s)", HOUR).fetchall()
    assert waterfall == [(False,)]
    result = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04T07:00", "--to", "2026-03-04T08:00",
                                 "--database-url", db_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: line1: not plausible: effectiveness above 100%" in result.output


def test_time_before_the_first_state_sample_is_no_data_not_adot(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=2))
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(hours=1, seconds=1), RUNNING)])  # first sample at 07:00
    writer.flush()
    derive.run_once(db, plant(), now=HOUR[1])
    k = kpi.period_kpi(db, "line1", local("2026-03-04", "06:00"), HOUR[1])
    assert k["pot"] == 7200
    assert (k["no_data_time"], k["adot"], k["pbt"], k["apt"]) == (3600, 0, 3600, 3600)
    assert k["availability"] == 1.0  # not 0.5: the hour before the first sample is not known to be idle
    pareto = {row["reason_code"]: row for row in kpi.downtime_pareto(db, "line1", local("2026-03-04", "06:00"),
                                                                      HOUR[1])}  # fmt: skip
    assert pareto["no_data"]["seconds"] == 3600 and pareto["no_data"]["time_element"] == "NODATA"


def test_reworked_units_leave_good_quantity(db: psycopg.Connection) -> None:
    _hour_of(db, RUNNING, good_per_minute=100)  # 6,000 good, no reject
    adjust_count(db, "line1", "rework", T0 + timedelta(minutes=20), 40, why="relabelled", by="qa")
    # The rework counter's deltas (count_buckets.rework, from the line's rework binding) count the same way.
    db.execute("INSERT INTO count_buckets (equipment_id, cut_end, rework) VALUES ('line1', %s, 60)",
               (T0 + timedelta(minutes=30, seconds=30),))  # fmt: skip
    k = kpi.period_kpi(db, "line1", *HOUR)
    assert (k["pq"], k["gq"], k["rq"], k["sq"]) == (6000, 6000 - 100, 100, 0)  # SQ = PQ - GQ - RQ
    assert k["quality_ratio"] == pytest.approx(5900 / 6000)
    assert k["rework_ratio"] == pytest.approx(100 / 6000)


def test_adjustments_of_an_unused_kind_or_below_zero_are_refused(db: psycopg.Connection) -> None:
    _hour_of(db, RUNNING, good_per_minute=10)  # line1 counts good and reject: no total counter
    with pytest.raises(InvalidInput, match="total correction would change nothing") as unused:
        adjust_count(db, "line1", "total", T0 + timedelta(minutes=5), 5, why="typo", by="ann")
    assert unused.value.field == "kind"
    with pytest.raises(InvalidInput, match="makes good -400") as negative:
        adjust_count(db, "line1", "good", T0 + timedelta(minutes=5), -1000, why="voided", by="ann")
    assert negative.value.field == "quantity"
    adjust_count(db, "line1", "good", T0 + timedelta(minutes=5), -600, why="voided all", by="ann")  # to zero: fine
    assert db.execute("SELECT count(*) FROM count_adjustments").fetchone()[0] == 1


def test_data_quality_events_make_the_window_implausible(db: psycopg.Connection) -> None:
    _hour_of(db, RUNNING, good_per_minute=100)
    db.execute("INSERT INTO data_quality_events (equipment_id, at, stream, kind, value, previous_value) "
               "VALUES ('line1', %s, 'count:good', 'counter_glitch', 0, 2000)", (T0 + timedelta(minutes=20),))
    k = kpi.period_kpi(db, "line1", *HOUR)
    assert (k["data_quality_events"], k["implausible_reasons"]) == (1, ["data_quality_events"])
    assert kpi.explain(k) == ["raw data was rejected or doubted (data-quality events): 1"]
    later = kpi.period_kpi(db, "line1", T0 + timedelta(minutes=30), HOUR[1])
    assert later["plausible"] and later["data_quality_events"] == 0


def test_order_progress_far_over_plan_is_flagged(db: psycopg.Connection, db_url: str) -> None:
    order = _hour_of(db, RUNNING, good_per_minute=100, planned=1000)  # 6,000 of 1,000: 600%
    progress = orders.order_progress(db, order["id"], now=HOUR[1])
    assert progress["percent_complete"] == pytest.approx(600)
    assert progress["implausible_reasons"] == ["far_over_plan"]
    grafana = db.execute("SELECT plausible, implausible_reasons FROM grafana.orders(ARRAY['line1'], ARRAY['lager'], "
                         "%s, %s)", HOUR).fetchone()  # fmt: skip
    assert grafana == (False, ["far_over_plan"])
    shown = runner.invoke(app, ["orders", "show", "W-1", "--database-url", db_url])
    assert shown.exit_code == 0, shown.output
    assert "Europe/Berlin" in shown.output and "2026-03-04 07:00:00" in shown.output  # 06:00 UTC
    assert "warning: W-1: not plausible:" in shown.output and "150% of the planned quantity" in shown.output


def test_kpi_cli_reads_plant_time_groups_by_day_and_fits_80_columns(db: psycopg.Connection, db_url: str) -> None:
    _hour_of(db, RUNNING, good_per_minute=100)
    url = ["--database-url", db_url]
    shift = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04", "--shift", "early", *url])
    assert shift.exit_code == 0, shift.output
    assert "line1 2026-03-04 06:00 – 14:00 (Europe/Berlin)" in shift.output
    assert "ISO 22400-2, reworked units are not good" in " ".join(shift.output.split())
    assert "Minor stops as performance loss" in shift.output
    assert all(len(line) <= 80 for line in shift.output.splitlines()), shift.output
    by_day = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-03T00:00", "--to", "2026-03-05T00:00",
                                 "--by", "day", "--json", *url])  # fmt: skip
    days = json.loads(by_day.output)
    assert [d["group_label"] for d in days] == ["2026-03-03", "2026-03-04"]
    assert days[1]["pq"] == 6000 and days[0]["pq"] == 0
    wide = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04", "--shift", "early", "--wide", *url],
                         env={"COLUMNS": "200"})  # fmt: skip
    assert "NODATA" in wide.output and "ADOT" in wide.output
    unknown = runner.invoke(app, ["kpi", "--line", "line1", "--from", "2026-03-04", "--shift", "nights", *url])
    assert unknown.exit_code == 2 and "shifts: early, late" in unknown.output


def test_calendar_periods_follow_local_midnights_across_dst() -> None:
    fall_back = kpi.calendar_periods(local("2026-10-24", "00:00"), local("2026-10-27", "00:00"), "day",
                                     "Europe/Berlin")  # fmt: skip
    assert [(label, (hi - lo).total_seconds() / 3600) for label, lo, hi in fall_back] == [
        ("2026-10-24", 24), ("2026-10-25", 25), ("2026-10-26", 24)]  # fmt: skip
    months = kpi.calendar_periods(local("2026-01-15", "00:00"), local("2026-03-02", "00:00"), "month", "Europe/Berlin")
    assert [label for label, _, _ in months] == ["2026-01", "2026-02", "2026-03"]
    assert months[0][1] == local("2026-01-15", "00:00") and months[1][1] == local("2026-02-01", "00:00")


def test_downtime_and_pareto_from_the_command_line(db: psycopg.Connection, db_url: str) -> None:
    derive.run_once(db, plant(), now=T0 - timedelta(hours=2))
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=10), RUNNING), (T0 + timedelta(minutes=10),
                          T0 + timedelta(minutes=20), FAULT), (T0 + timedelta(minutes=20), HOUR[1], RUNNING)])
    writer.flush()
    derive.run_once(db, plant(), now=HOUR[1])
    url = ["--database-url", db_url]
    listed = runner.invoke(app, ["downtime", "list", "--line", "line1", "--from", "2026-03-04T07:00", "--to",
                                 "2026-03-04T08:00", "--unassigned", "--json", *url])  # fmt: skip
    assert listed.exit_code == 0, listed.output
    stop = next(e for e in json.loads(listed.output) if e["kind"] == "stop")
    assert stop["state"] == "fault" and stop["seconds"] == 600 and stop["reason_code"] is None
    split = runner.invoke(app, ["downtime", "split", str(stop["id"]), "--at", "2026-03-04T07:15", "--why", "two",
                                *url])  # fmt: skip
    assert split.exit_code == 0, split.output
    first = int(split.output.split("into ")[1].split(",")[0])
    assigned = runner.invoke(app, ["downtime", "assign", str(first), "material", "--why", "no caps", *url])
    assert assigned.exit_code == 0 and "material" in assigned.output, assigned.output
    wrong = runner.invoke(app, ["downtime", "assign", str(first), "nonsense", *url])
    assert wrong.exit_code == 2 and "--reason-code" in wrong.output
    table = runner.invoke(app, ["downtime", "list", "--line", "line1", "--from", "2026-03-04T07:00", "--to",
                                "2026-03-04T08:00", *url])  # fmt: skip
    assert "07:10:00" in table.output and "material" in table.output
    audited = db.execute("SELECT actor, action FROM audit_log WHERE object LIKE 'downtime:%' ORDER BY id").fetchall()
    assert [a for _, a in audited] == ["downtime.edit", "downtime.assign"] and audited[0][0].startswith("cli:")
    pareto = runner.invoke(app, ["pareto", "--line", "line1", "--from", "2026-03-04T07:00", "--to",
                                 "2026-03-04T08:00", "--json", *url])  # fmt: skip
    minutes = {row["reason_code"]: row["seconds"] / 60 for row in json.loads(pareto.output)}
    assert minutes == {"material": 5, "unassigned:fault": 5}
    shown = runner.invoke(app, ["pareto", "--line", "line1", "--from", "2026-03-04T07:00", "--to",
                                "2026-03-04T08:00", *url])  # fmt: skip
    assert "No material (material)" in shown.output and all(len(x) <= 80 for x in shown.output.splitlines())


def test_planned_downtime_comes_only_from_the_schedule(db: psycopg.Connection) -> None:
    """A PLC 'planned stop' state and a PDT reason given afterwards stay in PBT, reported apart."""
    from mes.production import downtime

    codes = {"running": [1], "idle": [2], "fault": [3, 4], "changeover": [5], "planned_stop": [6]}
    p = plant(bindings={**plant_bindings(), "state": {"tag": "state", "codes": codes}})
    derive.run_once(db, p, now=T0 - timedelta(hours=2))
    order = orders.create_order(db, "W-1", "line1", "lager", 10_000, by="planner")
    orders.transition(db, order["id"], "running", "ann", at=T0)
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=10), RUNNING), (T0 + timedelta(minutes=10),
                          T0 + timedelta(minutes=20), 6), (T0 + timedelta(minutes=20), T0 + timedelta(minutes=30),
                          RUNNING), (T0 + timedelta(minutes=30), T0 + timedelta(minutes=35), FAULT),
                          (T0 + timedelta(minutes=35), HOUR[1] + timedelta(seconds=1), RUNNING)])  # fmt: skip
    writer.flush()
    derive.run_once(db, p, now=HOUR[1])
    db.execute("INSERT INTO downtime_reasons (line_id, code, name, category, time_element, loss) "
               "VALUES ('line1', 'meeting', 'Team meeting', 'Planned', 'PDT', 'planned')")
    fault = next(e for e in downtime.list_events(db, "line1", *HOUR) if e["state"] == "fault")
    downtime.assign_reason(db, fault["id"], "meeting", by="ann", why="it was the weekly meeting")
    k = kpi.period_kpi(db, "line1", *HOUR)
    assert (k["pdt"], k["pbt"], k["adet"], k["apt"]) == (0, 3600, 900, 2700)
    assert k["unscheduled_stop_time"] == 900
    assert k["availability"] == 2700 / 3600


def plant_bindings() -> dict:
    import yaml

    from tests.mes.production.scenario import PLANT_YAML

    return yaml.safe_load(PLANT_YAML)["areas"][0]["lines"][0]["bindings"]


def test_from_yesterday_is_the_whole_previous_plant_day() -> None:
    from datetime import UTC, datetime, time
    from zoneinfo import ZoneInfo

    from mes.cli.timeopts import parse_window

    tz = ZoneInfo("Asia/Shanghai")
    today = datetime.now(UTC).astimezone(tz).date()
    start, end = parse_window("yesterday", None, "Asia/Shanghai")
    assert start == datetime.combine(today - timedelta(days=1), time(), tz)
    assert end == datetime.combine(today, time(), tz)
