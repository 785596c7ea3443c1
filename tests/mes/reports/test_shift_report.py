"""A report of a simulated shift holds the API's numbers for the same window, in both languages:
compared figure by figure with the JSON the API serves, read back from the PDF (pdftotext) and
from the XLSX (openpyxl)."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from datetime import date
from typing import Any

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from mes.api import create_app
from mes.reports import xlsx
from mes.reports.content import build_report
from mes.reports.generate import render
from mes.reports.periods import report_period
from mes.reports.plant import build_plant_report, plant_period
from mes.web.i18n import Formats
from tests.mes.auth.helpers import add_user, sign_in

KPI_FIGURES = ("pot", "pbt", "apt", "adet", "aust", "adot", "aupt", "no_data_time", "pq", "gq", "sq", "rq", "oee",
               "availability", "effectiveness", "quality_ratio", "scrap_ratio", "energy", "energy_per_unit",
               "energy_per_good_unit")  # fmt: skip


@pytest.fixture(scope="module")
def conn(shift_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(shift_db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="module")
def report(conn: psycopg.Connection) -> dict[str, Any]:
    return build_report(conn, report_period(conn, "line1", "shift", date(2026, 3, 4), "early"))


@pytest.fixture(scope="module")
def api(conn: psycopg.Connection, shift_db_url: str, report: dict[str, Any]) -> dict[str, Any]:
    """What the API says about the report's window."""
    add_user(conn, "rita", "manager")
    period = report["period"]
    window = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    with TestClient(create_app(shift_db_url), base_url="http://localhost") as client:
        assert sign_in(client, "rita").status_code == 303
        got = {by: client.get("/api/lines/line1/kpi", params={**window, "by": by}).json()
               for by in ("period", "order", "product")}  # fmt: skip
        got["waterfall"] = client.get("/api/lines/line1/waterfall", params=window).json()
        got["pareto"] = client.get("/api/lines/line1/pareto", params=window).json()
        got["stops"] = client.get("/api/lines/line1/downtime", params={**window, "kind": "stop"}).json()
        got["energy"] = client.get("/api/lines/line1/energy", params=window).json()
    return got


def test_the_shift_had_orders_stops_and_a_changeover(report: dict[str, Any]) -> None:
    assert report["period"].label == "2026-03-04 early"
    assert len(report["production"]["orders"]) == 3 and len(report["changeovers"]) == 2
    assert report["oee"]["pq"] > 100_000 and len(report["stops"]) > 10 and report["implausible"] == []


def test_every_figure_equals_the_api(report: dict[str, Any], api: dict[str, Any]) -> None:
    (total,) = api["period"]
    for key in KPI_FIGURES:
        assert report["oee"][key] == pytest.approx(total[key]), key
    orders = {row["group_key"]: row for row in api["order"]}
    assert len(orders) == len(report["production"]["orders"])
    for order in report["production"]["orders"]:
        row = orders[str(order["order_id"])]
        for key in ("pq", "gq", "sq", "gq_total", "oee", "energy_per_good_unit"):
            assert order[key] == pytest.approx(row[key]), (order["number"], key)
    products = {row["group_key"]: row for row in api["product"]}
    for product in report["production"]["products"]:
        for key in ("pq", "gq", "sq", "oee"):
            assert product[key] == pytest.approx(products[product["product_id"]][key]), key
    steps = [(s["name"], s["seconds"]) for s in api["waterfall"]]
    assert [(s["name"], s["seconds"]) for s in report["waterfall"]] == steps
    assert [(r["reason_code"], r["seconds"], r["events"]) for r in report["pareto"]] == \
        [(r["reason_code"], r["seconds"], r["events"]) for r in api["pareto"]]  # fmt: skip
    assert [(s["id"], s["seconds"], s["reason_code"]) for s in report["stops"]] == \
        [(s["id"], s["seconds"], s["reason_code"]) for s in api["stops"]]  # fmt: skip
    energy = report["energy"]
    assert energy["energy"] == pytest.approx(api["energy"]["energy"]) and energy["energy"] > 0
    assert energy["idle"] == pytest.approx(api["energy"]["not_producing"]) and energy["idle"] > 0
    for element, part in api["energy"]["by_element"].items():
        assert energy["by_element"][element]["energy"] == pytest.approx(part["energy"]), element
    commented = [s for s in report["stops"] if "更换夹爪" in s["comment"]]
    assert len(commented) == 1 and commented[0]["reason_code"] == "mechanical"


def _pdf_text(data: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


@pytest.mark.parametrize(("language", "locale", "words"), [
    ("zh-CN", "zh_CN", ["班次报告", "设备综合效率", "时间开动率", "性能开动率", "合格品率", "损失瀑布图",
                        "生产与计划对比", "按原因的停机", "换型", "一次合格率", "单位合格品能耗 (kWh)",
                        "交接班", "签核", "更换夹爪"]),
    ("en", "en", ["Shift report", "OEE", "Availability", "Performance", "Quality rate", "Loss waterfall",
                  "Production against plan", "Downtime by reason", "Changeovers", "First pass yield", "Sign-off"]),
])  # fmt: skip
def test_the_pdf_says_the_api_numbers_in_each_language(conn: psycopg.Connection, report: dict[str, Any],
                                                         api: dict[str, Any], language: str, locale: str,
                                                         words: list[str]) -> None:
    text = _pdf_text(render(conn, report["period"], "pdf", language))
    for word in words:
        assert word in text, word
    (total,) = api["period"]
    fmt = Formats(locale, "Europe/Berlin")
    for key in ("oee", "availability", "effectiveness", "quality_ratio"):
        assert fmt.percent(total[key]) in text, key
    for key in ("pq", "gq", "sq"):
        assert fmt.number(total[key]) in text, key
    for key in ("pbt", "apt"):
        assert fmt.duration(total[key]) in text, key
    for order in api["order"]:
        assert fmt.number(order["gq"]) in text
    assert fmt.number(total["energy_per_good_unit"], 4) in text


def test_the_xlsx_cells_hold_the_api_numbers(conn: psycopg.Connection, report: dict[str, Any],
                                             api: dict[str, Any]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(render(conn, report["period"], "xlsx", "zh-CN")))
    (total,) = api["period"]
    summary = book["汇总"]
    for row, (key, _label, kind) in enumerate(xlsx.SUMMARY, start=3):
        cell = summary.cell(row, 2)
        assert cell.data_type in ("n", "d"), key  # a number, not text (a duration reads back as a timedelta)
        value = cell.value.total_seconds() if kind == "duration" else cell.value
        assert value == pytest.approx(total[key], abs=1e-3), key  # timedelta: to the millisecond
    orders = book["工单"]
    by_number = {orders.cell(r, 1).value: r for r in range(2, orders.max_row + 1)}
    api_orders = {row["group_label"]: row for row in api["order"]}
    keys = [column[0] for column in xlsx.ORDERS]
    for number, row in by_number.items():
        expected = next(o for o in api["order"] if o["group_key"] == str(next(
            r["order_id"] for r in report["production"]["orders"] if r["number"] == number)))
        for key in ("pq", "gq", "sq", "oee"):
            assert orders.cell(row, keys.index(key) + 1).value == pytest.approx(expected[key]), (number, key)
    assert len(by_number) == len(api_orders)
    fall = book["损失瀑布图"]
    assert [fall.cell(r, 2).value.total_seconds() for r in range(2, fall.max_row + 1)] == \
        pytest.approx([s["seconds"] for s in api["waterfall"]], abs=1e-3)  # fmt: skip


def test_the_plant_report_of_the_simulated_shift_holds_the_api_numbers(conn: psycopg.Connection,
                                                                         api: dict[str, Any]) -> None:
    """The plant of this database is the one line: its plant report is the line's API figures
    (the two-line sums are tests/mes/reports/test_plant_report.py)."""
    whole = build_plant_report(conn, plant_period(conn, "shift", date(2026, 3, 4), "early"))
    (total,) = api["period"]
    for key in ("pot", "pbt", "apt", "adet", "aust", "adot", "pq", "gq", "sq", "rq", "oee", "availability",
                "effectiveness", "quality_ratio", "scrap_ratio", "energy"):  # fmt: skip
        assert whole["oee"][key] == pytest.approx(total[key]), key
    assert whole["energy"]["energy_per_good_unit"] == pytest.approx(total["energy_per_good_unit"])
    assert whole["energy"]["idle"] == pytest.approx(api["energy"]["not_producing"])
    assert [(s["name"], s["seconds"]) for s in whole["waterfall"]] == \
        [(s["name"], pytest.approx(s["seconds"])) for s in api["waterfall"]]  # fmt: skip
    assert [(r["reason_code"], r["seconds"], r["events"]) for r in whole["pareto"]] == \
        [(r["reason_code"], pytest.approx(r["seconds"]), r["events"]) for r in api["pareto"]]  # fmt: skip
    assert len(whole["production"]["orders"]) == len(api["order"])
