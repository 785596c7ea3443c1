"""The alarms of a shift in its report: those of the line (and of its area, for rules without a
line), each with its time to acknowledge and to close, and their means, hand-computed; and the line's
andon calls, with the times the andon domain gives them, in the PDF and the XLSX."""

from __future__ import annotations

import io
import subprocess
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import psycopg

from mes.alarms import andon
from mes.reports.content import build_report
from mes.reports.generate import render
from mes.reports.periods import report_period
from mes.web.i18n import Formats
from tests.mes.reports.simulated import SHIFT_START

POINT = ("INSERT INTO alarm_points (rule, tag, kind, priority, area, line, role, message) "
         "VALUES (%s, 'filler_state', 'digital', %s, %s, %s, 'operator', %s) RETURNING id")  # fmt: skip
OCCURRENCE = ("INSERT INTO alarm_occurrences (point_id, state, active, acknowledged, priority, raised_at, "
              "annunciated_at, acknowledged_at, acknowledged_by, cleared_at, ended_at, closed_at, closed_by, cause, "
              "action) VALUES (%s, 'normal', false, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")  # fmt: skip


def test_the_shift_report_lists_the_lines_alarms_with_their_handling_times(shift_db_url: str) -> None:
    at = SHIFT_START + timedelta(hours=1)
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        on_line = conn.execute(POINT, ("bottle_jam", "high", None, "line1", "Bottles jammed at infeed")).fetchone()[0]
        in_area = conn.execute(POINT, ("air_low", "medium", "packaging", None, "Compressed air low")).fetchone()[0]
        elsewhere = conn.execute(POINT, ("boiler", "low", "utilities", None, "Boiler")).fetchone()[0]
        # Acknowledged after 2 min, closed after 10 min; acknowledged after 4 min, never closed; not ours.
        conn.execute(OCCURRENCE, (on_line, True, "high", at, at, at + timedelta(minutes=2), "otto",
                                  at + timedelta(minutes=5), at + timedelta(minutes=5), at + timedelta(minutes=10),
                                  "sam", "gripper bent", "replaced"))  # fmt: skip
        later = at + timedelta(hours=2)
        conn.execute(OCCURRENCE, (in_area, True, "medium", later, later, later + timedelta(minutes=4), "otto",
                                  None, None, None, None, None, None))  # fmt: skip
        conn.execute(OCCURRENCE, (elsewhere, False, "low", at, at, None, None, None, None, None, None, None, None))
        try:
            period = report_period(conn, "line1", "shift", date(2026, 3, 4), "early")
            section = build_report(conn, period)["alarms"]
            text = subprocess.run(["pdftotext", "-", "-"], input=render(conn, period, "pdf", "en"),
                                  capture_output=True, check=True).stdout.decode()  # fmt: skip
        finally:
            conn.execute("DELETE FROM alarm_occurrences")
            conn.execute("DELETE FROM alarm_points")
    assert [a["rule"] for a in section["alarms"]] == ["bottle_jam", "air_low"]
    assert section["count"] == 2 and section["by_priority"]["high"] == 1 and section["not_acknowledged"] == 0
    assert section["mean_ack_seconds"] == 180.0 and section["max_ack_seconds"] == 240.0
    assert section["mean_close_seconds"] == 600.0
    fmt = Formats("en", "Europe/Berlin")
    assert "Alarms and their handling" in text and "Bottles jammed at infeed" in text and "Boiler" not in text
    assert fmt.duration(180.0) in text and fmt.duration(600.0) in text


def _seconds(cell: timedelta | None) -> int | None:
    """An XLSX duration cell (openpyxl reads ``[h]:mm:ss`` as a timedelta) in whole seconds."""
    return None if cell is None else round(cell.total_seconds())


def test_the_shift_report_shows_the_lines_andon_calls_as_the_andon_domain_times_them(shift_db_url: str) -> None:
    at = SHIFT_START + timedelta(hours=1)
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        # Material: acknowledged after 3 min, resolved after 12 min; material again: acknowledged after 5 min,
        # still open; custom "Glue low": resolved (so acknowledged) after 20 min; maintenance before the shift.
        first_call = andon.raise_call(conn, "line1", "material", "op1", at)
        andon.acknowledge_call(conn, first_call["id"], "otto", at + timedelta(minutes=3))
        andon.resolve_call(conn, first_call["id"], "sam", at + timedelta(minutes=12), "pallet brought")
        glue = andon.raise_call(conn, "line1", "custom", "op2", at + timedelta(hours=1), label="Glue low")
        andon.resolve_call(conn, glue["id"], "sam", at + timedelta(hours=1, minutes=20), "refilled")
        again = andon.raise_call(conn, "line1", "material", "op1", at + timedelta(hours=2))
        andon.acknowledge_call(conn, again["id"], "otto", at + timedelta(hours=2, minutes=5))
        andon.raise_call(conn, "line1", "maintenance", "op1", SHIFT_START - timedelta(hours=1))
        try:
            period = report_period(conn, "line1", "shift", date(2026, 3, 4), "early")
            domain = list(reversed(andon.calls(conn, period.start, period.end, "line1")))
            section = build_report(conn, period)["andon"]
            book = openpyxl.load_workbook(io.BytesIO(render(conn, period, "xlsx", "en")))
            text = subprocess.run(["pdftotext", "-", "-"], input=render(conn, period, "pdf", "en"),
                                  capture_output=True, check=True).stdout.decode()  # fmt: skip
        finally:
            conn.execute("DELETE FROM andon_calls")
    assert period.start == SHIFT_START
    assert [c["id"] for c in section["calls"]] == [c["id"] for c in domain] == [first_call["id"], glue["id"],
                                                                                 again["id"]]  # fmt: skip
    assert [(c["seconds_to_acknowledge"], c["seconds_to_resolve"]) for c in domain] == [
        (180.0, 720.0), (1200.0, 1200.0), (300.0, None)]
    # Per kind, counted by hand: material 2 calls, 1 open, acknowledged after 4 min on average, resolved after 12.
    assert section["by_kind"] == [
        {"kind": "material", "count": 2, "not_acknowledged": 0, "not_resolved": 1,
         "mean_seconds_to_acknowledge": 240.0, "mean_seconds_to_resolve": 720.0},
        {"kind": "custom", "count": 1, "not_acknowledged": 0, "not_resolved": 0,
         "mean_seconds_to_acknowledge": 1200.0, "mean_seconds_to_resolve": 1200.0}]  # fmt: skip
    sheet = [[cell for cell in row] for row in book["Andon calls"].iter_rows(values_only=True)]
    kinds = [(r[0], r[1], r[2], r[3], _seconds(r[4]), _seconds(r[5])) for r in sheet[1:3]]
    assert kinds == [("Material", 2, 0, 1, 240, 720), ("Custom", 1, 0, 0, 1200, 1200)]
    assert sheet[4][:3] == ["Raised at", "Andon kind", "Raised by"]
    calls = [(r[1], r[2], _seconds(r[3]), r[4], _seconds(r[5]), r[6]) for r in sheet[5:8]]
    assert calls == [("Material", "op1", 180, "otto", 720, "sam"), ("Glue low", "op2", 1200, "sam", 1200, "sam"),
                     ("Material", "op1", 300, "otto", None, None)]  # fmt: skip
    assert sheet[5][0] == at.astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    fmt = Formats("en", "Europe/Berlin")
    assert "Andon calls" in text and "Glue low" in text and "refilled" in text
    assert all(fmt.duration(s) in text for s in (180.0, 240.0, 300.0, 720.0, 1200.0))
