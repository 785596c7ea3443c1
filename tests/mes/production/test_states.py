"""State intervals: bad quality, unmapped codes and silence are never running."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from collectors.samples import BAD_COMMUNICATION_ERROR, UNCERTAIN
from mes.production import derive
from mes.production.states import current_state
from tests.mes.production.scenario import SampleWriter, local, plant

T0 = local("2026-03-05", "07:00")


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def intervals(db: psycopg.Connection) -> list[tuple]:
    return [(lo, hi, state, code) for lo, hi, state, code in db.execute(
        "SELECT lower(period), upper(period), state, raw_code FROM state_intervals WHERE equipment_id = 'line1' "
        "ORDER BY lower(period)").fetchall()]  # fmt: skip


def test_bad_quality_and_unmapped_codes_are_unknown_and_uncertain_is_usable(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=at(-3600))
    writer = SampleWriter(db)
    writer.add("state", at(0), 1)
    writer.add("state", at(30), 1, BAD_COMMUNICATION_ERROR)  # value read, but quality bad
    writer.add("state", at(60), 99)  # not in the code map: the binding's default (unknown)
    writer.add("state", at(90), 3, UNCERTAIN)  # uncertain still tells the state
    writer.add("state", at(120), 1)
    writer.flush()
    derive.run_once(db, plant(), now=at(150))
    assert intervals(db) == [
        (at(0), at(30), "running", 1), (at(30), at(60), "unknown", None), (at(60), at(90), "unknown", 99),
        (at(90), at(120), "fault", 3), (at(120), at(150), "running", 1)]
    assert current_state(db, "line1")["since"] == at(120)


def test_silence_beyond_the_stale_timeout_is_unknown_until_news(db: psycopg.Connection) -> None:
    derive.run_once(db, plant(), now=at(-3600))
    stale = 2 * 60 + 1  # heartbeat 60 s, poll interval 1 s
    writer = SampleWriter(db)
    writer.add("state", at(0), 1)
    writer.flush()
    derive.run_once(db, plant(), now=at(600))
    assert intervals(db) == [(at(0), at(stale), "running", 1), (at(stale), at(600), "unknown", None)]
    writer.add("state", at(700), 1)
    writer.flush()
    derive.run_once(db, plant(), now=at(720))
    assert intervals(db) == [(at(0), at(stale), "running", 1), (at(stale), at(700), "unknown", None),
                             (at(700), at(720), "running", 1)]
    events = db.execute("SELECT kind, lower(period), upper(period) FROM downtime_events").fetchall()
    assert events == [("no_data", at(stale), at(700))]


def test_late_samples_are_taken_in_by_rederive(db: psycopg.Connection) -> None:
    from mes.production import kpi

    p = plant()
    derive.run_once(db, p, now=at(-3600))
    writer = SampleWriter(db)
    for i in (0, 1, 2, 3, 6, 7, 8, 9, 10):
        writer.add("state", at(60 * i), 1)
        writer.add("good", at(60 * i), 10 * i)
    writer.flush()
    derive.run_once(db, p, now=at(600))
    assert ("unknown" in [row[2] for row in intervals(db)]), "minutes 4 and 5 are missing so far"
    # A spool replay delivers minutes 4 and 5 (a stop) after the fact.
    for i in (4, 5):
        writer.add("state", at(60 * i), 3)
        writer.add("good", at(60 * i), 10 * i)
    writer.flush()
    derive.rederive(db, p, "line1", since=at(200), now=at(600))
    assert intervals(db) == [(at(0), at(240), "running", 1), (at(240), at(360), "fault", 3),
                             (at(360), at(600), "running", 1)]
    assert kpi.period_kpi(db, "line1", at(0), at(600))["gq"] == 100  # counted once, not twice
    events = db.execute("SELECT kind, lower(period), upper(period) FROM downtime_events").fetchall()
    assert events == [("stop", at(240), at(360))], "the provisional no-data event is gone"


def test_a_state_reading_holds_two_heartbeats_and_a_poll_then_is_no_data(db: psycopg.Connection) -> None:
    # heartbeat 60 s, poll 1 s: a reading holds 121 s.
    derive.run_once(db, plant(), now=at(-3600))
    writer = SampleWriter(db)
    writer.add("state", at(0), 1)
    writer.flush()
    derive.run_once(db, plant(), now=at(300))
    assert intervals(db) == [(at(0), at(121), "running", 1), (at(121), at(300), "unknown", None)]


def test_a_line_sets_how_long_a_state_reading_holds(db: psycopg.Connection) -> None:
    line = plant(state_stale_after=30)
    derive.run_once(db, line, now=at(-3600))
    writer = SampleWriter(db)
    writer.add("state", at(0), 1)
    writer.flush()
    derive.run_once(db, line, now=at(300))
    assert intervals(db) == [(at(0), at(30), "running", 1), (at(30), at(300), "unknown", None)]


def test_check_prints_how_long_each_state_tag_holds(tmp_path) -> None:
    from typer.testing import CliRunner

    from mes.cli import app
    from tests.mes.production.scenario import PLANT_YAML

    path = tmp_path / "plant.yaml"
    path.write_text(PLANT_YAML)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "line1: state tag state holds a reading 121 s, then no data (2 x heartbeat 60 s + poll 1 s" in result.output
