"""The alarms of a shift in its report: those of the line (and of its area, for rules without a
line), each with its time to acknowledge and to close, and their means, hand-computed."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

import psycopg

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
