"""History (issues 13 and 27): imported samples on a past day get their shift calendar and
facts, the plant is known right after `import`, and late samples re-derive in `run`."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from typer.testing import CliRunner

from collectors.config import parse_plant
from collectors.store import import_csv
from mes.cli import app
from mes.production import derive
from mes.production.counts import count_totals
from tests.mes.production.scenario import FAULT, IDLE, PLANT_YAML, RUNNING, local

DAY = "2026-03-04"  # a Wednesday, long before today: no calendar exists for it
runner = CliRunner(env={"COLUMNS": "200"})


def plant_file(tmp_path: Path) -> Path:
    """The golden plant with a rework counter."""
    doc = yaml.safe_load(PLANT_YAML)
    doc["tags"].append({"name": "rework", "connection": "plc", "table": "holding_register", "address": 7,
                        "data_type": "uint16"})  # fmt: skip
    doc["areas"][0]["lines"][0]["bindings"]["rework_count"] = {"tag": "rework", "bits": 16}
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def early_shift_rows(skip_state: tuple[int, int] | None = None) -> list[tuple[datetime, str, float]]:
    """06:00-14:00 one sample a minute: running, a fault 08:00-08:30, idle in the 10:00 break;
    +100 good a running minute, +2 rework every 10th minute. ``skip_state`` leaves out the
    state samples of those minutes (they arrive late)."""
    rows: list[tuple[datetime, str, float]] = []
    good = rework = 0.0
    for minute in range(481):
        at = local(DAY, "06:00") + timedelta(minutes=minute)
        state = FAULT if 120 <= minute < 150 else IDLE if 240 <= minute < 270 else RUNNING
        if not (skip_state and skip_state[0] <= minute < skip_state[1]):
            rows.append((at, "state", state))
        rows.append((at, "good", good))
        rows.append((at, "rework", rework))
        if state == RUNNING:
            good += 100
            rework += 2 if minute % 10 == 0 else 0
    return rows


def write_csv(path: Path, rows: list[tuple[datetime, str, float]]) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time", "tag", "value"])
        for at, tag, value in rows:
            out.writerow([at.isoformat(), tag, value])
    return path


def test_orders_create_right_after_import_on_a_fresh_database(tmp_path: Path, db_url: str) -> None:
    config = plant_file(tmp_path)
    data = write_csv(tmp_path / "history.csv", early_shift_rows()[:30])
    url = ["--database-url", db_url]
    imported = runner.invoke(app, ["import", str(data), "--config", str(config), *url])
    assert imported.exit_code == 0, imported.output
    assert "linebrain derive --config" in imported.output
    created = runner.invoke(app, ["orders", "create", "W-1", "--line", "line1", "--product", "lager",
                                  "--quantity", "50000", "--user", "ann", *url])  # fmt: skip
    assert created.exit_code == 0, created.output


def test_an_unknown_line_names_the_real_option_and_how_to_load_the_config(db_url: str) -> None:
    result = runner.invoke(app, ["orders", "create", "W-1", "--line", "nope", "--product", "lager",
                                 "--quantity", "5", "--user", "ann", "--database-url", db_url])  # fmt: skip
    assert result.exit_code == 2
    assert "--line:" in result.output and "--line-id" not in result.output
    assert "linebrain derive --config" in result.output


def test_import_derive_kpi_on_a_past_day_by_shift_and_by_order(tmp_path: Path, db_url: str) -> None:
    config = plant_file(tmp_path)
    data = write_csv(tmp_path / "history.csv", early_shift_rows())
    url = ["--database-url", db_url]
    assert runner.invoke(app, ["import", str(data), "--config", str(config), *url]).exit_code == 0
    for args in (["create", "W-1", "--line", "line1", "--product", "lager", "--quantity", "50000"],
                 ["start", "W-1", "--at", f"{DAY}T06:00"], ["complete", "W-1", "--at", f"{DAY}T14:00"]):
        done = runner.invoke(app, ["orders", *args, "--user", "ann", *url])
        assert done.exit_code == 0, done.output
    derived = runner.invoke(app, ["derive", "--config", str(config), "--to", f"{DAY}T23:00", *url])
    assert derived.exit_code == 0, derived.output
    assert "caught up" in derived.output
    again = runner.invoke(app, ["derive", "--config", str(config), "--to", f"{DAY}T23:00", *url])
    assert "nothing new" in again.output

    assert_early_shift_kpis(url)
    lone_from = runner.invoke(app, ["derive", "--config", str(config), "--from", f"{DAY}T08:00", *url])
    assert lone_from.exit_code == 2 and "--from" in lone_from.output
    redone = runner.invoke(app, ["derive", "--config", str(config), "--rederive", "--from", f"{DAY}T08:00:30",
                                 "--to", f"{DAY}T23:00", *url])  # fmt: skip
    assert redone.exit_code == 0 and "caught up" in redone.output, redone.output
    assert_early_shift_kpis(url)
    with psycopg.connect(db_url) as conn:
        totals = count_totals(conn, "line1", local(DAY, "06:00"), local(DAY, "14:00"))
    assert totals["rework"] == pytest.approx(2 * 42)  # minutes 0, 10, ... 470 that ran: 48 - 6 idle/fault


def assert_early_shift_kpis(url: list[str]) -> None:
    """By hand: POT 8 h; break 30 min (PDT) -> PBT 27,000 s; fault 30 min -> APT 25,200 s;
    420 running minutes x 100 = 42,000 units at PRU 0.5 s."""
    for by, key in (("shift", "early"), ("order", "W-1")):
        result = runner.invoke(app, ["kpi", "--line", "line1", "--from", f"{DAY}T00:00", "--to", f"{DAY}T23:59",
                                     "--by", by, "--json", *url])  # fmt: skip
        assert result.exit_code == 0, result.output
        rows = [r for r in json.loads(result.output) if key in str(r["group_label"])]
        assert len(rows) == 1, result.output
        row = rows[0]
        assert row["pbt"] == pytest.approx(27_000)
        assert row["apt"] == pytest.approx(25_200)
        assert row["pq"] == pytest.approx(42_000)
        assert row["availability"] == pytest.approx(25_200 / 27_000)
        assert row["effectiveness"] == pytest.approx(0.5 * 42_000 / 25_200)
        # Rework counter: +2 in 42 running minutes; ISO 22400-2: reworked units leave GQ.
        assert (row["rq"], row["gq"], row["sq"]) == (pytest.approx(84), pytest.approx(42_000 - 84), pytest.approx(0))


def test_late_samples_re_derive_their_window_in_run(tmp_path: Path, db_url: str) -> None:
    config = plant_file(tmp_path)
    plant = parse_plant(config.read_text())
    import_csv(write_csv(tmp_path / "a.csv", early_shift_rows(skip_state=(300, 360))), plant, db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        derive.run_once(conn, plant, now=local(DAY, "14:00"))
        gap = conn.execute("SELECT sum(upper(period) - lower(period)) FROM state_intervals WHERE state = 'unknown' "
                           "AND period && tstzrange(%s, %s)", (local(DAY, "11:00"), local(DAY, "12:00"))).fetchone()[0]
        assert gap > timedelta(minutes=50)  # 11:00-12:00 has no state samples yet
        late = [r for r in early_shift_rows() if r[1] == "state" and 300 <= (r[0] - local(DAY, "06:00")).seconds // 60
                < 360]  # fmt: skip
        import_csv(write_csv(tmp_path / "late.csv", late), plant, db_url)
        derive.run_once(conn, plant, now=local(DAY, "14:00"))
        unknown = conn.execute("SELECT count(*) FROM state_intervals WHERE state = 'unknown' AND upper(period) <= %s",
                               (local(DAY, "14:00"),)).fetchone()[0]  # fmt: skip
        assert unknown == 0
        shifts = conn.execute("SELECT name FROM shift_instances WHERE local_date = %s ORDER BY lower(period)",
                              (datetime.fromisoformat(DAY).date(),)).fetchall()  # fmt: skip
        assert [s[0] for s in shifts] == ["early", "late"]


def test_linebrain_derive_re_derives_late_imports_too(tmp_path: Path, db_url: str) -> None:
    config = plant_file(tmp_path)
    url = ["--database-url", db_url]
    derive_args = ["derive", "--config", str(config), "--to", f"{DAY}T14:00", *url]
    first = write_csv(tmp_path / "a.csv", early_shift_rows(skip_state=(300, 360)))
    assert runner.invoke(app, ["import", str(first), "--config", str(config), *url]).exit_code == 0
    assert runner.invoke(app, derive_args).exit_code == 0
    late = [r for r in early_shift_rows() if r[1] == "state" and local(DAY, "11:00") <= r[0] < local(DAY, "12:00")]
    assert runner.invoke(app, ["import", str(write_csv(tmp_path / "late.csv", late)), "--config", str(config),
                               *url]).exit_code == 0  # fmt: skip
    assert runner.invoke(app, derive_args).exit_code == 0
    with psycopg.connect(db_url) as conn:
        unknown = conn.execute("SELECT count(*) FROM state_intervals WHERE state = 'unknown' AND upper(period) <= %s",
                               (local(DAY, "14:00"),)).fetchone()[0]  # fmt: skip
    assert unknown == 0


def test_pending_late_ranges_stay_one_row_per_writer(tmp_path: Path, db_url: str) -> None:
    config = plant_file(tmp_path)
    plant = parse_plant(config.read_text())
    rows = early_shift_rows()
    for part in range(3):
        import_csv(write_csv(tmp_path / f"{part}.csv", rows[part::3]), plant, db_url, batch_rows=200)
    with psycopg.connect(db_url) as conn:
        pending = conn.execute("SELECT count(*), min(first_time), max(last_time) FROM derive_pending").fetchone()
    assert pending[0] <= 3 < 1443 // 200  # not a row per batch
    assert (pending[1], pending[2]) == (local(DAY, "06:00"), local(DAY, "14:00"))


def test_history_calendar_keeps_holidays_and_builds_the_night_before(db: psycopg.Connection) -> None:
    from mes.production.shifts import add_holiday
    from tests.mes.production.scenario import SampleWriter

    doc = yaml.safe_load(PLANT_YAML)
    doc["shift_patterns"].append({"id": "nights", "shifts": [{"name": "night", "start": "22:00", "end": "06:00"}]})
    doc["areas"][0]["lines"][0]["shift_pattern"] = "nights"
    line = parse_plant(yaml.safe_dump(doc))
    derive.run_once(db, line, now=local("2026-06-01", "12:00"))
    add_holiday(db, datetime.fromisoformat("2026-03-05").date(), "works holiday", by="ann", line_id="line1")
    writer = SampleWriter(db)
    for hour in range(0, 72, 2):  # 2026-03-04 00:00 .. 03-06 22:00
        writer.add("state", local(DAY, "00:00") + timedelta(hours=hour), RUNNING)
    writer.flush()
    derive.run_once(db, line, now=local("2026-06-01", "12:00"))
    days = [r[0].isoformat() for r in db.execute(
        "SELECT local_date FROM shift_instances WHERE local_date < '2026-03-10' ORDER BY 1")]  # fmt: skip
    # The night starting 03-03 covers the first samples; 03-05 is a holiday.
    assert days == ["2026-03-03", "2026-03-04", "2026-03-06"]
