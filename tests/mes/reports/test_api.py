"""Reports through the API: made and kept by a supervisor (an operator may not), listed, downloaded;
a period signed off once, and the sign-off shown in the report made afterwards."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from mes.api import create_app
from tests.mes.auth.helpers import add_user, sign_in

EARLY = {"kind": "shift", "date": "2026-03-04", "shift": "early"}


@pytest.fixture(scope="module")
def clients(shift_db_url: str) -> Iterator[dict[str, TestClient]]:
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        add_user(conn, "sam", "supervisor")
        add_user(conn, "otto", "operator")
    out = {}
    for name in ("sam", "otto"):
        client = TestClient(create_app(shift_db_url), base_url="http://localhost")
        client.__enter__()
        assert sign_in(client, name).status_code == 303
        out[name] = client
    yield out
    for client in out.values():
        client.__exit__(None, None, None)
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM stored_reports WHERE NOT scheduled")
        conn.execute("DELETE FROM report_sign_offs")


def test_a_supervisor_makes_a_report_that_is_listed_and_downloaded(clients: dict[str, TestClient]) -> None:
    sam, otto = clients["sam"], clients["otto"]
    assert otto.post("/api/lines/line1/reports", json={**EARLY, "format": "xlsx"}).status_code == 403
    made = sam.post("/api/lines/line1/reports", json={**EARLY, "format": "xlsx", "lang": "en"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["label"], body["created_by"], body["format"]) == ("2026-03-04 early", "sam", "xlsx")
    listed = otto.get("/api/reports", params={"line": "line1"}).json()  # reading needs no action
    assert [r["id"] for r in listed] == [body["id"]] and "content" not in listed[0]
    file = otto.get(f"/api/reports/{body['id']}/file")
    assert file.status_code == 200 and file.headers["content-type"].startswith("application/vnd.openxml")
    book = openpyxl.load_workbook(io.BytesIO(file.content))
    assert book["Summary"]["A1"].value == "Shift report"
    assert sam.get("/api/reports/999999/file").status_code == 404


def test_bad_periods_are_422_naming_the_field(clients: dict[str, TestClient]) -> None:
    sam = clients["sam"]
    wrong = sam.post("/api/lines/line1/reports", json={**EARLY, "shift": "brunch"})
    assert wrong.status_code == 404 and "brunch" in wrong.text
    kind = sam.post("/api/lines/line1/reports", json={**EARLY, "kind": "year"})
    assert kind.status_code == 422 and kind.json()["detail"][0]["loc"] == ["body", "kind"]


def test_a_period_is_signed_off_once_and_its_report_says_by_whom(clients: dict[str, TestClient],
                                                                 shift_db_url: str) -> None:
    from mes.reports.content import build_report
    from mes.reports.periods import report_period

    sam = clients["sam"]
    assert clients["otto"].post("/api/lines/line1/sign-off", json=EARLY).status_code == 403
    signed = sam.post("/api/lines/line1/sign-off", json={**EARLY, "note": "Line handed over clean"})
    assert signed.status_code == 201, signed.text
    assert signed.json()["signed_by"] == "sam"
    again = sam.post("/api/lines/line1/sign-off", json=EARLY)
    assert again.status_code == 409 and "signed off by sam" in again.text
    with psycopg.connect(shift_db_url, autocommit=True) as conn:
        from datetime import date

        report = build_report(conn, report_period(conn, "line1", "shift", date(2026, 3, 4), "early"))
        audit = conn.execute("SELECT actor, action FROM audit_log WHERE object LIKE 'sign-off:%'").fetchall()
    assert report["sign_off"]["signed_by"] == "sam" and report["sign_off"]["note"] == "Line handed over clean"
    assert audit == [("sam", "reports.sign_off")]
