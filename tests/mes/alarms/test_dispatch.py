"""Dispatch to closure against real receivers on loopback: an SMTP server (aiosmtpd) and an HTTP server that
plays the generic webhook, the WeCom and DingTalk group robots and a broken endpoint. Escalation fires at the
configured time; a failing channel retries and ends up visibly failed; an acknowledged alarm escalates no
further; closing needs cause and action."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import psycopg
import pytest
from aiosmtpd.controller import Controller

from collectors.config.models import Plant
from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.dispatch import dispatch_once, notifications, signed_url
from mes.alarms.engine import AlarmEngine
from mes.errors import Conflict, InvalidInput
from tests.conftest import free_port

ACK_WITHIN = 1.5
LEVEL_2_AFTER = 1.0

pytestmark = pytest.mark.plain_only("alarm logic on plain tables, the same on both flavours")


class Receiver(BaseHTTPRequestHandler):
    """Records every POST with its arrival time; /fail answers 500, /ding checks the signature is there."""

    received: ClassVar[list[tuple[float, str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        path, _, query = self.path.partition("?")
        self.received.append((time.time(), path, {"body": body, "query": urllib.parse.parse_qs(query)}))
        status, answer = (500, b"broken") if path == "/fail" else (200, b'{"errcode": 0, "errmsg": "ok"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[float, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((time.time(), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[str, int, Mailbox]]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}", smtp.port, mailbox
    finally:
        smtp.stop()
        http.shutdown()


def plant(base: str, smtp_port: int) -> Plant:
    return Plant.model_validate({
        "site": {"name": "Dispatch test"},
        "areas": [{"id": "press"}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 502}],
        "tags": [{"name": "oil_temp", "connection": "plc", "table": "holding_register", "address": 0,
                  "data_type": "float32"}],
        "alarms": {
            "rules": [{"name": "oil_hot", "tag": "oil_temp", "kind": "high", "limit": 80, "area": "press",
                       "ack_within": ACK_WITHIN, "priority": "high", "message": "Hydraulic oil hot"},
                      {"name": "oil_warm", "tag": "oil_temp", "kind": "high", "limit": 70, "area": "press",
                       "ack_within": ACK_WITHIN}],
            "dispatch": {
                "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "alarms@plant.example"},
                "retry_after": 0.3, "max_attempts": 3,
                "escalation": [{"role": "supervisor", "after": 60}, {"role": "manager", "after": LEVEL_2_AFTER}],
                "channels": [
                    {"name": "hook", "kind": "webhook", "url": f"{base}/hook"},
                    {"name": "team_robot", "kind": "wecom", "url": f"{base}/wecom", "roles": ["operator"]},
                    {"name": "broken", "kind": "webhook", "url": f"{base}/fail", "roles": ["operator"]},
                    {"name": "supervisors", "kind": "email", "to": ["shift.lead@plant.example"],
                     "roles": ["supervisor"]},
                    {"name": "managers", "kind": "dingtalk", "url": f"{base}/ding", "secret": "SEC123",
                     "roles": ["manager"]},
                ],
            },
        },
    })  # fmt: skip


def raise_alarm(conn: psycopg.Connection, engine: AlarmEngine, ids: dict, value: float,
                at: datetime | None = None) -> list[dict]:  # fmt: skip
    changes = engine.evaluate([Sample("oil_temp", at or datetime.now(UTC), value)])
    with conn.transaction():
        return [store.record_change(conn, ids[c.condition.key], c) for c in changes]


class DispatchClock:
    """Drives ``dispatch_once`` on an injected clock, as the dispatcher's loop does on the wall clock
    every :data:`TICK`: escalation and retry times are read against this clock, so a loaded machine
    cannot move them. Every notice a round delivers is stamped with that round's clock reading
    (the receivers record a message before they answer, so it has arrived when the round returns)."""

    TICK = timedelta(seconds=0.05)

    def __init__(self, conn: psycopg.Connection, config: Plant, mailbox: Mailbox, start: datetime) -> None:
        self.conn, self.config, self.mailbox, self.now = conn, config, mailbox, start
        self.posts: list[tuple[datetime, str, dict[str, Any]]] = []
        self.mails: list[tuple[datetime, Any]] = []

    def run(self, seconds: float) -> None:
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            posted, mailed = len(Receiver.received), len(self.mailbox.messages)
            dispatch_once(self.conn, self.config.alarms.dispatch, self.now)
            self.posts += [(self.now, path, data) for _, path, data in Receiver.received[posted:]]
            self.mails += [(self.now, mail) for _, mail in self.mailbox.messages[mailed:]]
            self.now += self.TICK


def test_escalation_fires_at_the_configured_time_through_every_channel(
        db_url: str, receivers: tuple[str, int, Mailbox]) -> None:  # fmt: skip
    base, smtp_port, mailbox = receivers
    Receiver.received.clear()
    mailbox.messages.clear()
    config = plant(base, smtp_port)
    engine = AlarmEngine(config)
    tick = DispatchClock.TICK.total_seconds()
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = store.sync_points(conn, engine.conditions)
        t0 = datetime.now(UTC)
        clock = DispatchClock(conn, config, mailbox, t0)
        hot, warm = raise_alarm(conn, engine, ids, 85.0, at=t0)
        clock.run(0.5)
        with conn.transaction():  # the warm one is acknowledged within its time: it must not escalate
            store.acknowledge(conn, warm["id"], "olga", clock.now)
        clock.run(ACK_WITHIN + LEVEL_2_AFTER + 0.3)
        posts = [((at - t0).total_seconds(), path, data) for at, path, data in clock.posts]
        hook = [p for p in posts if p[1] == "/hook"]  # the generic webhook serves every role
        assert [(p[2]["body"]["event"], p[2]["body"]["alarm"]["rule"]) for p in hook] == [
            ("alarm.raised", "oil_hot"), ("alarm.raised", "oil_warm"), ("alarm.escalated", "oil_hot"),
            ("alarm.escalated", "oil_hot")]
        assert hook[0][0] == 0 and hook[0][2]["body"]["alarm"]["message"] == "Hydraulic oil hot"
        wecom = [p for p in posts if p[1] == "/wecom"]
        assert len(wecom) == 2 and wecom[0][2]["body"]["msgtype"] == "markdown"
        assert "[HIGH] Hydraulic oil hot" in wecom[0][2]["body"]["markdown"]["content"]
        # level 1: the supervisors' mail, in the first round at or after ack_within (not one round early)
        [(mailed_at, mail)] = clock.mails
        assert ACK_WITHIN <= (mailed_at - t0).total_seconds() < ACK_WITHIN + tick
        assert mail["To"] == "shift.lead@plant.example" and mail["Subject"].startswith("ESCALATED (level 1)")
        # level 2: the managers' DingTalk robot, LEVEL_2_AFTER later, signed
        [(ding_at, _, ding)] = [p for p in posts if p[1] == "/ding"]
        assert ACK_WITHIN + LEVEL_2_AFTER <= ding_at < ACK_WITHIN + LEVEL_2_AFTER + tick
        assert ding["body"]["msgtype"] == "markdown" and "level 2" in ding["body"]["markdown"]["title"]
        assert ding["query"]["sign"] and ding["query"]["timestamp"]
        escalations = [e["comment"] for e in store.events(conn, hot["id"]) if e["transition"] == "escalated"]
        assert escalations == ["level 1: supervisor", "level 2: manager"]
        assert not [e for e in store.events(conn, warm["id"]) if e["transition"] == "escalated"]
        # the broken endpoint: tried max_attempts times, retry_after apart, then visibly failed
        broken = [n for n in notifications(conn) if n["channel"] == "broken"]
        assert [(n["status"], n["attempts"]) for n in broken] == [("failed", 3), ("failed", 3)]
        assert "500" in broken[0]["last_error"]
        assert sorted(at for at, path, _ in posts if path == "/fail") == [0, 0, 0.3, 0.3, 0.6, 0.6]


def test_closing_an_alarm_needs_it_over_and_a_cause_and_an_action(
        db_url: str, receivers: tuple[str, int, Mailbox]) -> None:  # fmt: skip
    config = plant(*receivers[:2])
    engine = AlarmEngine(config)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = store.sync_points(conn, engine.conditions)
        hot, _warm = raise_alarm(conn, engine, ids, 85.0)
        now = datetime.now(UTC)
        with pytest.raises(Conflict, match="still unacknowledged"):
            store.close(conn, hot["id"], "olga", now, "cooler fouled", "cleaned cooler")
        store.acknowledge(conn, hot["id"], "olga", now)
        raise_alarm(conn, engine, ids, 60.0)
        with pytest.raises(InvalidInput, match="cause"):
            store.close(conn, hot["id"], "olga", now, " ", "cleaned cooler")
        with pytest.raises(InvalidInput, match="action"):
            store.close(conn, hot["id"], "olga", now, "cooler fouled", "")
        closed = store.close(conn, hot["id"], "olga", now + timedelta(minutes=5), "cooler fouled", "cleaned cooler")
        assert (closed["closed_by"], closed["cause"], closed["action"]) == ("olga", "cooler fouled", "cleaned cooler")


def test_a_dingtalk_signature_is_the_documented_hmac() -> None:
    channel = plant("http://x", 25).alarms.dispatch.channels[4]
    # HMAC-SHA256 over "1700000000000\nSEC123" with key SEC123, base64, URL-encoded (computed with openssl)
    assert signed_url(channel, 1_700_000_000_000).endswith(
        "?timestamp=1700000000000&sign=" + urllib.parse.quote_plus(EXPECTED_SIGNATURE))


EXPECTED_SIGNATURE = "lkcPI1uoxBY1gUnCnnPH1Kkru0Hqjo7rFpA3haIVhEQ="
