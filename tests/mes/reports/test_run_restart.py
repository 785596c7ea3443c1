"""Exactly once across a SIGKILL of a real ``linebrain run``: the process runs the simulated brewery
(OPC UA, in this test's loop) on a plant clock 600 times faster than the wall clock (``--clock-start``,
``--clock-speed``), makes each 10-minute shift's report on schedule, is killed with SIGKILL after its
first reports, and is started again; every shift's report is then stored exactly once, none missing,
the ones after the kill made by the second process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from aiosmtpd.controller import Controller

from simulator import Simulator, SimulatorOptions
from tests.conftest import free_port
from tests.mes.production.scenario import local
from tests.mes.reports.simulated import plant
from tests.mes.reports.test_schedule import Inbox

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[3]
START = local("2026-03-04", "05:58")
SPEED = 600.0  # plant seconds per wall second: a 10-minute shift in 1 s
SHIFTS = [(f"s{i}", f"06:{10 * i:02d}", f"06:{10 * i + 10:02d}" if i < 5 else "07:00") for i in range(6)]
GRACE = timedelta(minutes=1)
# A run starts a few wall seconds after it is launched with the simulator's time, so its clock lags the
# simulator's by up to an hour or two at this speed, and the restarted one starts ahead of where the first
# stopped: catch up from far enough back, but not as far as the day before's shifts.
CATCH_UP_DAYS = 0.9


def _config(tmp_path: Path, endpoint: str, smtp_port: int = 25) -> Path:
    doc = yaml.safe_load(plant(endpoint).model_dump_json(exclude_none=True))
    doc["shift_patterns"] = [{"id": "three-shift", "shifts": [{"name": n, "start": a, "end": b} for n, a, b in SHIFTS]}]
    doc["reports"] = {"grace_minutes": GRACE.total_seconds() / 60, "catch_up_days": CATCH_UP_DAYS,
                      "schedules": [{"kind": "shift", "format": "xlsx", "language": "en", "mail_to": ["supervisor"]}],
                      "recipients": {"supervisor": ["lead@plant.example"]},
                      "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "run@plant.example"}}  # fmt: skip
    path = tmp_path / "plant.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(config: Path, url: str, tmp_path: Path, clock_start: datetime, name: str) -> subprocess.Popen:
    env = {**os.environ, "LINEBRAIN_DATA_DIR": str(tmp_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "mes.cli", "run", str(config), "--metrics-port", "0", "--spool-dir",
         str(tmp_path / "spool"), "--database-url", url, "--clock-start", clock_start.isoformat(),
         "--clock-speed", str(SPEED)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"),
    )  # fmt: skip


def _stored(url: str) -> list[tuple[str, datetime]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT label, created_at FROM stored_reports WHERE scheduled ORDER BY id").fetchall()


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_each_shift_report_is_made_once_across_a_sigkill_of_linebrain_run(db_url: str, tmp_path: Path) -> None:
    options = SimulatorOptions(scenario="brewery", seed=5, speed=SPEED, start=START, modbus_port=None, opcua_port=0,
                               order_minutes=30)  # fmt: skip
    started: list[subprocess.Popen] = []
    inbox, smtp_port = Inbox(), free_port()
    mail_server = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    mail_server.start()
    try:
        async with Simulator(options) as sim:
            config = _config(tmp_path, sim.opcua_endpoint, smtp_port)
            first = _run(config, db_url, tmp_path, sim.now, "first")
            started.append(first)
            await _until(lambda: len(_stored(db_url)) >= 2, 60, "the first run made no two reports")
            first.send_signal(signal.SIGKILL)  # no polite stop: whatever it was doing is cut off
            first.wait(10)
            await asyncio.sleep(0.5)  # an INSERT the server was running for it ends (committed or not)
            killed = _stored(db_url)
            killed_at = datetime.now().astimezone()
            second = _run(config, db_url, tmp_path, sim.now, "second")
            started.append(second)
            await _until(lambda: len(_stored(db_url)) >= len(SHIFTS), 90, "the second run did not catch up")
            await asyncio.sleep(1.5)  # a few more schedule rounds: nothing more is made
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0
    finally:
        mail_server.stop()
        for process in started:  # a failing test must not leave a run behind
            if process.poll() is None:
                process.kill()
                process.wait(10)

    stored = _stored(db_url)
    labels = [label for label, _at in stored]
    assert sorted(labels) == sorted(f"2026-03-04 {name}" for name, _a, _b in SHIFTS)  # each once, none missing
    assert 2 <= len(killed) < len(SHIFTS)  # killed in the middle
    assert all(at > killed_at for _label, at in stored[len(killed):])  # the rest by the restarted run
    # Mail is queued with the report and sent after: every report is mailed; only a kill between the mail
    # server's "250 OK" and the record of it could send one twice (at least once, docs/reports.md).
    subjects = [message["Subject"] for message in inbox.messages]
    assert set(subjects) == {f"Shift report line1 {label}" for label in labels}
    assert len(subjects) <= len(SHIFTS) + 1
    with psycopg.connect(db_url) as conn:
        tags, first_at, last_at = conn.execute(
            "SELECT count(DISTINCT tag_id), min(time), max(time) FROM samples").fetchone()
    # The simulated plant was collected, stamped with its own clock, in the shifts (the first ones may pass
    # while the first run starts: their reports say there was no data).
    assert tags >= 3 and local("2026-03-04", "05:58") <= first_at < last_at and last_at >= local("2026-03-04", "06:50")

def test_the_clock_options_name_what_is_wrong(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mes.cli import app

    config = _config(tmp_path, "opc.tcp://127.0.0.1:4840")
    runner = CliRunner(env={"COLUMNS": "200"})
    alone = runner.invoke(app, ["run", str(config), "--clock-speed", "60"])
    assert alone.exit_code == 2 and "--clock-speed: needs --clock-start" in alone.output
    naive = runner.invoke(app, ["run", str(config), "--clock-start", "2026-03-04T05:55", "--clock-speed", "60"])
    assert naive.exit_code == 2 and "--clock-start" in naive.output and "zone" in naive.output
    start = ["--clock-start", "2026-03-04T05:55:00+01:00"]
    not_a_speed = runner.invoke(app, ["run", str(config), *start, "--clock-speed", "nan"])
    assert not_a_speed.exit_code == 2 and "--clock-speed" in not_a_speed.output
