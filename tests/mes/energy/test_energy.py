"""Energy per good unit and idle energy, hand-computed: a line runs, stops for an hour, runs
again and idles without an order, its kWh meter wraps at 1000 kWh and is reset once. Then the
ISO 50006 baseline fitted on three hourly shifts and the fourth shift's deviation from it.

The plan, minute by minute (running: 100 good units and 1 kWh per minute; stopped or idle:
0.2 kWh per minute, 0.3 in the last half hour, where a compressor was left on):

| time        | state          | order | kWh                | good   |
|-------------|----------------|-------|--------------------|--------|
| 06:00–07:30 | running        | W-1   | 90 × 1 = 90        | 9,000  |
| 07:30–08:30 | fault (1 h)    | W-1   | 60 × 0.2 = 12      | 0      |
| 08:30–09:30 | running        | W-1   | 60 × 1 = 60        | 6,000  |
| 09:30–10:00 | idle           | none  | 30 × 0.3 = 9       | 0      |

Total 171 kWh for 15,000 good units: 0.0114 kWh per good unit; 21 kWh used while nothing was
produced (12 stopped, 9 without an order). The meter starts at 950 kWh, wraps to 0 at 06:50 and
is reset by the PLC after its 08:59 reading.

Hourly shifts h1..h4: (produced, kWh) = (6000, 60), (3000, 36), (3000, 36), (3000, 39). The
first three lie on E = 12 + 0.008·P exactly (12 kWh base load per hour = 60 min × 0.2); the
fourth deviates by +3 kWh."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from collectors.config import parse_plant
from collectors.config.models import Plant
from mes.cli import app
from mes.energy import deviations, energy_by, energy_split, fit_baseline
from mes.production import derive, orders
from tests.mes.production.scenario import FAULT, IDLE, PLANT_YAML, RUNNING, SampleWriter, local

DAY = "2026-03-04"


def t(clock: str) -> datetime:
    return local(DAY, clock)


def plant() -> Plant:
    doc = yaml.safe_load(PLANT_YAML)
    line = doc["areas"][0]["lines"][0]
    line["bindings"].pop("energy")
    line["bindings"]["energy_meter"] = {"tag": "energy", "wraps_at": 1000}
    line["bindings"]["good_count"]["bits"] = 32
    doc["shift_patterns"] = [{"id": "two-shift", "shifts": [
        {"name": f"h{i + 1}", "start": f"{6 + i:02d}:00", "end": f"{7 + i:02d}:00"} for i in range(4)]}]
    return parse_plant(yaml.safe_dump(doc), source="energy test plant")


def minute_plan(i: int) -> tuple[int, float, int]:
    """(state code, kWh, good units) of the minute starting 06:00 + i min."""
    if i < 90 or 150 <= i < 210:
        return RUNNING, 1.0, 100
    if i < 150:
        return FAULT, 0.2, 0
    return IDLE, 0.3, 0


def write_samples(conn: psycopg.Connection) -> None:
    writer = SampleWriter(conn)
    used, good, reading = 0.0, 0, 950.0
    writer.add("energy", t("06:00"), reading)
    writer.add("good", t("06:00"), 0)
    for i in range(240):
        state, kwh, units = minute_plan(i)
        start = t("06:00") + timedelta(minutes=i)
        writer.add("state", start, state)
        used, good = used + kwh, good + units
        at = start + timedelta(minutes=1)
        if i == 180:
            reading = 0.0  # the PLC reset the meter just after its 08:59 reading
        reading += kwh
        writer.add("energy", at, reading % 1000)
        writer.add("good", at, good)
    writer.add("state", t("10:00"), IDLE)
    writer.flush()


@pytest.fixture
def line(db: psycopg.Connection) -> str:
    p = plant()
    derive.run_once(db, p, now=t("05:00"))
    order = orders.create_order(db, "W-1", "line1", "lager", 20_000, by="planner")
    orders.transition(db, order["id"], "running", "anna", at=t("06:00"))
    orders.transition(db, order["id"], "completed", "anna", at=t("09:30"))
    write_samples(db)
    assert derive.run_once(db, p, now=t("10:05")).errors == []
    return "line1"


def test_energy_per_good_unit_and_idle_energy_match_the_hand_computation(db: psycopg.Connection, db_url: str,
                                                                        line: str) -> None:
    meter = db.execute("SELECT kind, count(*) FROM data_quality_events WHERE stream = 'count:energy' "
                       "GROUP BY kind").fetchall()  # fmt: skip
    assert meter == [("counter_reset", 1)]  # the reset is seen (and counted right); the wrap is no event
    (total,) = energy_by(db, line, t("06:00"), t("10:00"))
    assert total["energy"] == pytest.approx(171.0)
    assert total["gq"] == 15_000
    assert total["energy_per_good_unit"] == pytest.approx(171.0 / 15_000)
    split = energy_split(db, line, t("06:00"), t("10:00"))
    assert split["energy"] == pytest.approx(171.0)
    assert split["by_element"]["APT"]["energy"] == pytest.approx(150.0)
    assert split["by_element"]["ADET"]["energy"] == pytest.approx(12.0)  # the hour the line stood
    assert split["by_element"]["ADET"]["seconds"] == pytest.approx(3600.0)
    assert split["by_element"]["ADOT"]["energy"] == pytest.approx(9.0)  # idle, no order
    assert split["not_producing"] == pytest.approx(21.0)
    (order,) = [row for row in energy_by(db, line, t("06:00"), t("10:00"), "order") if row["group_key"]]
    assert order["energy"] == pytest.approx(162.0) and order["energy_per_good_unit"] == pytest.approx(162 / 15_000)
    (product,) = [row for row in energy_by(db, line, t("06:00"), t("10:00"), "product") if row["group_key"]]
    assert product["group_key"] == "lager" and product["energy"] == pytest.approx(162.0)
    shifts = [(row["group_label"], row["energy"], row["gq"]) for row in energy_by(db, line, t("06:00"), t("10:00"),
                                                                                   "shift")]  # fmt: skip
    assert [s[0] for s in shifts] == [f"h{i} {DAY}" for i in range(1, 5)]
    assert [s[1] for s in shifts] == pytest.approx([60.0, 36.0, 36.0, 39.0])
    assert [s[2] for s in shifts] == [6000, 3000, 3000, 3000]

    # ``linebrain energy`` prints the same figures.
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [
        "energy", "--line", line, "--from", f"{DAY}T06:00", "--to", f"{DAY}T10:00", "--by", "period",
        "--database-url", db_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Total 171.0 kWh; while not producing 21.0 kWh (12.3%)" in result.output
    assert "stopped (delays, failures) (ADET)" in result.output and "0.0114" in result.output
    missing = CliRunner().invoke(app, ["energy", "--line", "line9", "--database-url", db_url])
    assert missing.exit_code == 2 and "--line" in missing.output

def test_the_baseline_gives_the_base_load_and_each_shifts_deviation(db: psycopg.Connection, line: str) -> None:
    baseline = fit_baseline(db, line, t("06:00"), t("09:00"), by="anna")
    assert baseline["points"] == 3
    assert baseline["intercept"] == pytest.approx(12.0)  # kWh per hour of shift with nothing produced
    assert baseline["slope"] == pytest.approx(0.008)
    assert baseline["r2"] == pytest.approx(1.0)
    found = deviations(db, line, t("06:00"), t("10:00"))
    assert [row["shift"] for row in found] == [f"h{i} {DAY}" for i in range(1, 5)]
    assert [row["deviation"] for row in found] == pytest.approx([0.0, 0.0, 0.0, 3.0], abs=1e-6)
    assert found[3]["predicted"] == pytest.approx(36.0) and found[3]["deviation_share"] == pytest.approx(3 / 36)


def test_a_baseline_needs_two_shifts_with_different_production(db: psycopg.Connection, line: str) -> None:
    from mes.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        fit_baseline(db, line, t("07:00"), t("08:00"), by="anna")
    assert raised.value.field == "from"

