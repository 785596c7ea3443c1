"""The report schedule on a time-accelerated clock: each shift's report is made after the shift
closed plus the grace time, stored and mailed exactly once, also across a restart of the job
(what ``linebrain run`` runs) and with two runs at once. Mail goes to a real SMTP server
(aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import email
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import yaml
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from collectors.config import parse_plant
from collectors.config.models import Plant
from mes.api import create_app
from mes.production import derive
from mes.reports.schedule import jobs, report_job
from tests.conftest import free_port
from tests.mes.auth.helpers import add_user, sign_in
from tests.mes.production.scenario import PLANT_YAML, local

START = local("2026-03-04", "05:58")
SPEED = 300.0  # simulated seconds per wall second: a 10-minute shift in 2 s
GRACE_MINUTES = 1.0
SHIFTS = [(f"s{i}", f"06:{10 * i:02d}", f"06:{10 * i + 10:02d}" if i < 5 else "07:00") for i in range(6)]


class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def plant(smtp_port: int) -> Plant:
    doc = yaml.safe_load(PLANT_YAML)
    doc["shift_patterns"] = [{"id": "two-shift", "shifts": [{"name": n, "start": a, "end": b} for n, a, b in SHIFTS]}]
    doc["reports"] = {
        "grace_minutes": GRACE_MINUTES, "catch_up_days": 0.02,
        "schedules": [{"kind": "shift", "format": "xlsx", "language": "en", "mail_to": ["supervisor"]}],
        "recipients": {"supervisor": ["lead@plant.example", "deputy@plant.example"]},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "linebrain@plant.example"},
    }  # fmt: skip
    return parse_plant(yaml.safe_dump(doc), source="schedule test plant")


class AcceleratedClock:
    """Simulated plant time running ``SPEED`` times faster than the wall clock, from ``START``."""

    def __init__(self) -> None:
        self.wall = time.monotonic()

    def now(self) -> datetime:
        return START + timedelta(seconds=(time.monotonic() - self.wall) * SPEED)

    def wait_until(self, moment: datetime) -> None:
        time.sleep(max((moment - self.now()).total_seconds() / SPEED, 0.0))


def run_jobs(makers: list[Callable[[], Any]], clock: AcceleratedClock, until: datetime) -> None:
    """Run the jobs (each a ``linebrain run`` process's report job) until the clock reaches ``until``."""

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(make()(stop)) for make in makers]
        await asyncio.to_thread(clock.wait_until, until)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)

    asyncio.run(main())


def stored(db: psycopg.Connection) -> list[tuple]:
    return db.execute("SELECT label, period_end, mailed_at, mailed_to, mail_error FROM stored_reports "
                      "WHERE scheduled ORDER BY period_end").fetchall()  # fmt: skip


def test_each_shift_report_is_made_on_schedule_exactly_once_across_a_restart(
        db: psycopg.Connection, db_url: str, inbox: tuple[Inbox, int]) -> None:  # fmt: skip
    handler, port = inbox
    p = plant(port)
    assert [job.__name__ for job in jobs(p, db_url)] == ["job"]  # what `linebrain run` starts for this config
    derive.run_once(db, p, now=START)  # the config and the shift calendar
    clock = AcceleratedClock()

    def one_run() -> Any:
        return report_job(p, db_url, every_s=0.05, clock=clock.now)

    run_jobs([one_run], clock, local("2026-03-04", "06:25"))  # s0 and s1 have closed (+1 min grace)
    first = stored(db)
    assert [row[0] for row in first] == ["2026-03-04 s0", "2026-03-04 s1"]
    clock.wait_until(local("2026-03-04", "06:33"))  # the run is down while s2 closes
    run_jobs([one_run, one_run], clock, local("2026-03-04", "06:55"))  # restarted, and a second run beside it
    rows = stored(db)
    assert [row[0] for row in rows] == [f"2026-03-04 s{i}" for i in range(5)]
    grace = timedelta(minutes=GRACE_MINUTES)
    for label, end, mailed_at, mailed_to, error in rows:
        assert error is None and mailed_to == ["lead@plant.example", "deputy@plant.example"]
        assert end + grace <= mailed_at < end + grace + timedelta(minutes=6), label  # after its grace, not late
    subjects = sorted(message["Subject"] for message in handler.messages)
    assert subjects == sorted(f"Shift report line1 2026-03-04 s{i}" for i in range(5))  # one mail each
    attachment = next(part for part in handler.messages[0].walk() if part.get_filename())
    assert attachment.get_filename().endswith("-en.xlsx") and attachment.get_payload(decode=True)[:2] == b"PK"


def test_a_failed_mail_is_retried_and_shown_failed_after_the_last_try(db: psycopg.Connection, db_url: str) -> None:
    """Like alarm dispatch: a failed send is stored on the report and tried again after
    ``mail_retry_minutes``; a mail server back in time delivers it once; after ``mail_attempts``
    failures the report is kept and shown as not mailed."""
    from mes.reports.schedule import run_schedule

    port = free_port()  # nobody listens there yet
    p = plant(port)
    p = p.model_copy(update={"reports": p.reports.model_copy(update={"mail_retry_minutes": 2, "mail_attempts": 3})})
    derive.run_once(db, p, now=START)
    result = run_schedule(db, p, now=local("2026-03-04", "06:12"))
    assert result.made == ["shift:line1:2026-03-04 s0"] and "mailing shift:line1:2026-03-04 s0" in result.errors[0]
    assert mail_state(db) == [("2026-03-04 s0", "pending", 1, None)] and "Connection refused" in mail_error(db)[0]
    assert run_schedule(db, p, now=local("2026-03-04", "06:13")).made == []  # kept once, not made again
    assert mail_state(db)[0][1:3] == ("pending", 1)  # not due before the retry time
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()  # the mail server is back
    try:
        run_schedule(db, p, now=local("2026-03-04", "06:14:30"))
        run_schedule(db, p, now=local("2026-03-04", "06:20"))
    finally:
        controller.stop()
    assert [m["Subject"] for m in handler.messages] == ["Shift report line1 2026-03-04 s0"]  # once
    assert mail_state(db) == [("2026-03-04 s0", "sent", 2, local("2026-03-04", "06:14:30"))]
    assert mail_error(db) == [None]
    # s1 closes while the server is down again: three tries, then failed, and the list says so.
    for clock in ("06:21:30", "06:23:30", "06:25:30", "06:27:30", "06:29:30"):
        run_schedule(db, p, now=local("2026-03-04", clock))
    assert mail_state(db)[1] == ("2026-03-04 s1", "failed", 3, None)
    assert "Connection refused" in mail_error(db)[1]
    add_user(db, "sam", "supervisor")
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        assert sign_in(client, "sam").status_code == 303
        page = client.get("/reports", headers={"Accept-Language": "en"}).text
    assert page.count("Not mailed") == 1 and page.count("Connection refused") == 1  # s1 failed; s0 was mailed


def mail_state(db: psycopg.Connection) -> list[tuple]:
    return db.execute("SELECT label, mail_status, mail_attempts, mailed_at FROM stored_reports WHERE scheduled "
                      "ORDER BY period_end").fetchall()  # fmt: skip


def mail_error(db: psycopg.Connection) -> list[str | None]:
    return [row[0] for row in db.execute("SELECT mail_error FROM stored_reports WHERE scheduled ORDER BY period_end")]


def test_a_schedule_naming_an_unknown_line_or_a_role_without_recipients_is_refused_by_place() -> None:
    from collectors.errors import ConfigError

    doc = yaml.safe_load(PLANT_YAML)
    doc["reports"] = {"schedules": [{"kind": "day", "lines": ["line9"], "mail_to": ["manager"]},
                                    {"kind": "day", "plant": True, "lines": ["line1"]}]}
    with pytest.raises(ConfigError) as raised:
        parse_plant(yaml.safe_dump(doc), source="plant.yaml")
    problems = "\n".join(raised.value.problems)
    assert "reports.schedules[0].lines[0]: unknown line 'line9'" in problems
    assert "reports.schedules[0].mail_to[0]: no recipients for role 'manager'" in problems
    assert "reports.schedules[1].lines: a plant report covers every line" in problems
    assert "plant.yaml:" in problems
