"""Plant reports: every line of the plant in one report, aggregated the ISO 22400 way (sums of times
and quantities, ratios of the sums). Two lines on different shift calendars and a utility meter give
hand-computed plant figures; every figure also equals the ISO sums of what the API serves for each
line over that line's own shift, in the PDF (both languages, read back with pdftotext) and the XLSX
(openpyxl)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from collectors.config.reports import ReportSchedule, ReportSettings
from mes.api import create_app
from mes.cli import app
from mes.reports import xlsx
from mes.reports.generate import render
from mes.reports.plant import build_plant_report, plant_period
from mes.reports.schedule import run_schedule
from mes.web.i18n import Formats
from tests.conftest import create_database, drop_database
from tests.mes.auth.helpers import add_user, form_token, sign_in
from tests.mes.reports.two_lines import plant, simulate_two_lines, t

EARLY = {"kind": "shift", "date": "2026-03-04", "shift": "early"}
# Hand-computed from the plan in tests/mes/reports/two_lines.py:
# line1 06:00-14:00: PBT 8 h = 28,800 s, APT 7 h = 25,200 s (fault 1 h), PQ 420 min x 66 = 27,720,
#   GQ 25,200, SQ 2,520, ideal 0.5 s x 27,720 = 13,860 s, 420 x 1 + 60 x 0.2 = 432 kWh (12 while stopped)
# line2 07:00-13:00: PBT = APT = 6 h = 21,600 s, PQ = GQ = 360 x 30 = 10,800, ideal 10,800 s, 180 kWh
# compressors over the plant window 06:00-14:00: 480 min x 0.1 = 48 kWh
HAND = {
    "pbt": 50_400.0, "apt": 46_800.0, "adet": 3_600.0, "pq": 38_520.0, "gq": 36_000.0, "sq": 2_520.0,
    "ideal_time": 24_660.0, "availability": 46_800 / 50_400, "effectiveness": 24_660 / 46_800,
    "quality_ratio": 36_000 / 38_520, "oee": 46_800 / 50_400 * 24_660 / 46_800 * 36_000 / 38_520,
}  # fmt: skip
HAND_ENERGY = {"lines_energy": 612.0, "utilities_energy": 48.0, "energy": 660.0, "energy_per_good_unit": 660 / 36_000,
               "idle": 12.0}  # fmt: skip


@pytest.fixture(scope="module")
def plant_url(pg_server, template_name) -> Iterator[str]:
    url = create_database(pg_server, "plant", template_name)
    with psycopg.connect(url, autocommit=True) as conn:
        simulate_two_lines(conn)
        add_user(conn, "rita", "manager")
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="module")
def conn(plant_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(plant_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def report(conn: psycopg.Connection) -> dict[str, Any]:
    return build_plant_report(conn, plant_period(conn, "shift", date(2026, 3, 4), "early"))


@pytest.fixture(scope="module")
def api(plant_url: str, report: dict[str, Any]) -> dict[str, Any]:
    """What the API serves: each line's KPIs, waterfall and Pareto over its own early shift, and the plant's."""
    got: dict[str, Any] = {}
    with TestClient(create_app(plant_url), base_url="http://localhost") as client:
        assert sign_in(client, "rita").status_code == 303
        for line, (start, end) in (("line1", ("06:00", "14:00")), ("line2", ("07:00", "13:00"))):
            window = {"from": t(start).isoformat(), "to": t(end).isoformat()}
            (got[line],) = client.get(f"/api/lines/{line}/kpi", params=window).json()
            got[f"{line}_pareto"] = client.get(f"/api/lines/{line}/pareto", params=window).json()
            got[f"{line}_energy"] = client.get(f"/api/lines/{line}/energy", params=window).json()
        window = {"from": t("06:00").isoformat(), "to": t("14:00").isoformat()}
        (got["compressors"],) = client.get("/api/lines/compressors/kpi", params=window).json()
        answer = client.get("/api/plant/report", params=EARLY)
        assert answer.status_code == 200, answer.text
        got["plant"] = answer.json()
    return got


def test_each_line_is_read_over_its_own_shift(report: dict[str, Any]) -> None:
    period = report["period"]
    assert (period.key, period.start, period.end) == ("shift:_site:2026-03-04 early", t("06:00"), t("14:00"))
    assert [(s["line_id"], s["start"], s["end"]) for s in report["lines"]] == [
        ("line1", t("06:00"), t("14:00")), ("line2", t("07:00"), t("13:00"))]  # the compressors are no line
    assert report["implausible"] == []


def test_the_plant_figures_are_the_hand_computed_sums(report: dict[str, Any]) -> None:
    total = report["oee"]
    for key, expected in HAND.items():
        assert total[key] == pytest.approx(expected), key
    # Not the mean of the lines' percentages: (87.5% + 100%) / 2 = 93.75% availability.
    assert total["availability"] == pytest.approx(0.928571, abs=1e-6)
    energy = report["energy"]
    for key, expected in HAND_ENERGY.items():
        assert energy[key] == pytest.approx(expected), key
    fall = {step["name"]: step["seconds"] for step in report["waterfall"]}
    assert fall["planned_busy_time"] == pytest.approx(50_400) and fall["availability_loss"] == pytest.approx(3_600)
    assert fall["fully_productive_time"] / fall["planned_busy_time"] == pytest.approx(HAND["oee"])
    assert [(r["reason_code"], r["seconds"]) for r in report["pareto"]] == [("unassigned:fault", pytest.approx(3_600))]
    # Andon: each line's calls in its own shift (line2's 06:30 call is before its shift).
    (material,) = report["andon"]["by_kind"]
    assert (material["kind"], material["count"], material["not_resolved"]) == ("material", 2, 0)
    assert material["mean_seconds_to_acknowledge"] == pytest.approx((4 + 6) / 2 * 60)
    assert material["mean_seconds_to_resolve"] == pytest.approx((25 + 20) / 2 * 60)


def test_a_plant_day_reads_every_line_over_the_plant_local_day(conn: psycopg.Connection) -> None:
    day = build_plant_report(conn, plant_period(conn, "day", date(2026, 3, 4)))
    assert day["period"].key == "day:_site:2026-03-04"
    assert {(s["start"], s["end"]) for s in day["lines"]} == {(t("00:00"), day["period"].end)}
    for key in ("pbt", "apt", "pq", "gq", "oee"):  # the lines have one shift that day
        assert day["oee"][key] == pytest.approx(HAND[key]), key
    assert day["energy"]["utilities_energy"] == pytest.approx(660 * 0.1)  # the compressors' readings 05:01-16:00


def _iso_sum(lines: list[dict[str, Any]]) -> dict[str, float]:
    """The test's own aggregation of the API's line rows: sums, then ratios of the sums."""
    s = {key: sum(row[key] for row in lines) for key in ("pbt", "apt", "adet", "pq", "gq", "sq", "rq")}
    ideal = sum(row["effectiveness"] * row["apt"] for row in lines)  # PRU x PQ of each line, from its own KPIs
    return {**s, "availability": s["apt"] / s["pbt"], "effectiveness": ideal / s["apt"],
            "quality_ratio": s["gq"] / s["pq"], "oee": ideal / s["pbt"] * s["gq"] / s["pq"]}  # fmt: skip


def test_every_figure_equals_the_api_summed_over_the_lines(report: dict[str, Any], api: dict[str, Any]) -> None:
    expected = _iso_sum([api["line1"], api["line2"]])
    for key, value in expected.items():
        assert report["oee"][key] == pytest.approx(value), key
        assert api["plant"]["total"][key] == pytest.approx(value), key
    for section in report["lines"]:
        for key in ("pbt", "apt", "pq", "gq", "oee", "energy", "energy_per_good_unit"):
            assert section["kpi"][key] == pytest.approx(api[section["line_id"]][key]), (section["line_id"], key)
    energy = api["line1"]["energy"] + api["line2"]["energy"] + api["compressors"]["energy"]
    assert report["energy"]["energy"] == pytest.approx(energy)
    assert report["energy"]["energy_per_good_unit"] == pytest.approx(energy / expected["gq"])
    idle = api["line1_energy"]["not_producing"] + api["line2_energy"]["not_producing"]
    assert report["energy"]["idle"] == pytest.approx(idle)
    stops = sum(r["seconds"] for r in api["line1_pareto"] + api["line2_pareto"])
    assert sum(r["seconds"] for r in report["pareto"]) == pytest.approx(stops)
    assert api["plant"]["energy"]["energy"] == pytest.approx(energy)


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize(("language", "locale", "words"), [
    ("zh-CN", "zh_CN", ["班次报告", "全厂", "设备综合效率", "时间开动率", "性能开动率", "合格品率", "损失瀑布图",
                        "按原因的停机", "单位合格品能耗 (kWh)", "公用设施能耗 (kWh)", "签核"]),
    ("en", "en", ["Shift report", "Whole plant", "OEE", "Availability", "Loss waterfall", "Downtime by reason",
                  "Utility meter", "Sign-off"]),
])  # fmt: skip
def test_the_pdf_says_the_plant_numbers_in_each_language(conn: psycopg.Connection, report: dict[str, Any],
                                                         language: str, locale: str, words: list[str]) -> None:
    text = _pdf_text(render(conn, report["period"], "pdf", language))
    for word in words:
        assert word in text, word
    fmt = Formats(locale, "Europe/Berlin")
    for key in ("oee", "availability", "effectiveness", "quality_ratio"):
        assert fmt.percent(HAND[key]) in text, key
    for key in ("pq", "gq", "sq"):
        assert fmt.number(HAND[key]) in text, key
    assert fmt.duration(HAND["pbt"]) in text and fmt.number(HAND_ENERGY["energy_per_good_unit"], 4) in text
    assert fmt.percent(0.875) in text and fmt.percent(0.5) in text  # line1's availability, line2's performance


def test_the_xlsx_cells_hold_the_plant_numbers(conn: psycopg.Connection, report: dict[str, Any]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(render(conn, report["period"], "xlsx", "zh-CN")))
    summary = book["汇总"]
    expected = {**HAND, "energy": HAND_ENERGY["energy"], "energy_per_good_unit": HAND_ENERGY["energy_per_good_unit"]}
    for row, (key, _label, kind) in enumerate(xlsx.SUMMARY, start=3):
        if key not in expected:
            continue
        cell = summary.cell(row, 2)
        assert cell.data_type in ("n", "d"), key
        value = cell.value.total_seconds() if kind == "duration" else cell.value
        assert value == pytest.approx(expected[key], abs=1e-3), key
    lines = book["产线"]
    assert [lines.cell(r, 1).value for r in range(2, lines.max_row + 1)] == ["line1", "line2"]
    assert lines.cell(2, 13).value == pytest.approx(0.875 * (13_860 / 25_200) * (25_200 / 27_720))  # line1's OEE



def test_the_plant_report_from_the_cli_the_page_and_the_schedule(plant_url: str, conn: psycopg.Connection,
                                                                 tmp_path: Path) -> None:
    # CLI: no --line on a plant of several lines is the plant report (the same as --plant).
    target = tmp_path / "plant.xlsx"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [
        "report", "shift", "--date", "2026-03-04", "--shift", "early", "--format", "xlsx", "-o", str(target),
        "--database-url", plant_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert openpyxl.load_workbook(target)["汇总"].cell(3, 2).value == pytest.approx(HAND["oee"])
    both = CliRunner().invoke(app, ["report", "day", "--plant", "--line", "line1", "--database-url", plant_url])
    assert both.exit_code == 2 and "--plant" in both.output
    # The page's form: an empty line is the whole plant.
    with TestClient(create_app(plant_url), base_url="http://localhost") as client:
        assert sign_in(client, "rita").status_code == 303
        token = form_token(client.get("/reports").text)
        made = client.post("/reports", data={**EARLY, "day": "2026-03-04", "line_id": "", "format": "xlsx",
                                             "lang": "en", "csrf_token": token}, follow_redirects=False)  # fmt: skip
        assert made.status_code == 303, made.text
        assert "Whole plant" in client.get("/reports").text
    # The schedule: one plant report per closed plant shift, once.
    p = plant().model_copy(update={"reports": ReportSettings(
        grace_minutes=5, catch_up_days=0.1, schedules=[ReportSchedule(kind="shift", format="xlsx", plant=True)])})
    assert run_schedule(conn, p, now=t("14:04")).made == []  # line1's early shift closed, not yet its grace
    assert run_schedule(conn, p, now=t("14:06")).made == ["shift:_site:2026-03-04 early"]
    assert run_schedule(conn, p, now=t("14:30")).made == []
    stored = conn.execute("SELECT line_id, created_by FROM stored_reports WHERE period_key = %s ORDER BY id",
                          ("shift:_site:2026-03-04 early",)).fetchall()  # fmt: skip
    assert stored == [("_site", "rita"), ("_site", "schedule")]
