"""``linebrain report``: a file of the asked period, a stored copy, errors naming the option."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import psycopg
from typer.testing import CliRunner

from mes.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def test_report_writes_the_asked_shift_and_keeps_it(shift_db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "early.xlsx"
    result = runner.invoke(app, ["report", "shift", "--line", "line1", "--date", "2026-03-04", "--shift", "early",
                                 "--format", "xlsx", "--lang", "en", "-o", str(target), "--store",
                                 "--database-url", shift_db_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2026-03-04 early" in result.output
    book = openpyxl.load_workbook(io.BytesIO(target.read_bytes()))
    assert book.sheetnames[0] == "Summary" and book["Summary"]["A1"].value == "Shift report"
    with psycopg.connect(shift_db_url) as conn:
        stored = conn.execute(
            "SELECT label, format, language, created_by, octet_length(content) FROM stored_reports "
            "WHERE period_key = 'shift:line1:2026-03-04 early' AND NOT scheduled").fetchall()
        conn.execute("DELETE FROM stored_reports WHERE NOT scheduled")
    assert stored == [("2026-03-04 early", "xlsx", "en", "cli", target.stat().st_size)]


def test_report_errors_name_the_option(shift_db_url: str) -> None:
    url = ["--database-url", shift_db_url]
    wrong_shift = runner.invoke(app, ["report", "shift", "--line", "line1", "--date", "2026-03-04", "--shift",
                                      "brunch", *url])  # fmt: skip
    assert wrong_shift.exit_code == 2 and "--shift: no shift 'brunch'" in wrong_shift.output
    assert "early" in wrong_shift.output
    bad_day = runner.invoke(app, ["report", "day", "--line", "line1", "--date", "yesterday-ish", *url])
    assert bad_day.exit_code == 2 and "--date" in bad_day.output
    no_line = runner.invoke(app, ["report", "day", "--line", "line9", *url])
    assert no_line.exit_code == 2 and "--line" in no_line.output
