"""Dispatch to closure: tell the role on shift for the area, escalate what nobody acknowledges, retry.

:func:`dispatch_once` is one round (``linebrain run`` runs it every second):

1. every newly annunciated alarm gets a notice (level 0) for its rule's role;
2. an alarm still unacknowledged when its escalation time comes gets a notice
   for the next level's role (``alarms.dispatch.escalation``): level 1 after
   the rule's ``ack_within`` (or the first level's ``after``), each further
   level ``after`` seconds later; the escalation is an ``alarm_events`` row;
3. due notices are sent; a failure is stored on the notice (``attempts``,
   ``last_error``) and tried again ``retry_after`` seconds later, until
   ``max_attempts``, after which it is ``failed`` (visible in the API and
   logged).

A notice goes through every channel that serves its role, the alarm's area and
the shift on now (empty filters serve all). Payloads: generic JSON, the WeCom
group robot's markdown message, the DingTalk group robot's markdown message
(signed when the channel has a secret), and e-mail over SMTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from collectors.config.alarms import Channel, Dispatch, Smtp
from mes.alarms import store
from mes.db import first, rows

log = logging.getLogger("linebrain.alarms.dispatch")
SEND_TIMEOUT_S = 10.0


@dataclass
class DispatchReport:
    notified: int = 0
    escalated: int = 0
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def dispatch_once(conn: psycopg.Connection, settings: Dispatch, now: datetime) -> DispatchReport:
    """One round: queue notices for new and overdue alarms, then send what is due (``conn`` autocommit)."""
    report = DispatchReport()
    with conn.transaction():
        report.notified = _notify_new(conn, settings, now)
        report.escalated = _escalate(conn, settings, now)
        report.notified += _notify_andon(conn, settings, now)
    for notice in _claim_due(conn, now):
        error = _send(notice, settings)
        _settle(conn, notice, settings, error, now)
        if error is None:
            report.sent += 1
        else:
            report.errors.append(f"notice {notice['id']} via {notice['channel']}: {error}")
            report.failed += 1
    return report


# --------------------------------------------------------------------------- queueing


def _first_delay(settings: Dispatch, ack_within: float | None) -> float | None:
    if not settings.escalation:
        return None
    return ack_within if ack_within is not None else settings.escalation[0].after


def _notify_new(conn: psycopg.Connection, settings: Dispatch, now: datetime) -> int:
    new = rows(conn, "SELECT o.id, o.annunciated_at, p.ack_within_s FROM alarm_occurrences o "
                     "JOIN alarm_points p ON p.id = o.point_id "
                     "WHERE o.state = 'unacknowledged' AND o.notified_level IS NULL "
                     "ORDER BY o.id FOR UPDATE OF o SKIP LOCKED")  # fmt: skip
    for occurrence in new:
        alarm = store.occurrence(conn, occurrence["id"])
        _queue(conn, settings, alarm, 0, alarm["role"], now)
        delay = _first_delay(settings, occurrence["ack_within_s"])
        due = occurrence["annunciated_at"] + timedelta(seconds=delay) if delay is not None else None
        conn.execute("UPDATE alarm_occurrences SET notified_level = 0, next_escalation_at = %s WHERE id = %s",
                     (due, occurrence["id"]))  # fmt: skip
    return len(new)


def _escalate(conn: psycopg.Connection, settings: Dispatch, now: datetime) -> int:
    overdue = rows(conn, "SELECT id, point_id, notified_level, next_escalation_at FROM alarm_occurrences "
                         "WHERE state = 'unacknowledged' AND next_escalation_at <= %s "
                         "ORDER BY id FOR UPDATE SKIP LOCKED", (now,))  # fmt: skip
    for occurrence in overdue:
        level = (occurrence["notified_level"] or 0) + 1
        if level > len(settings.escalation):
            conn.execute("UPDATE alarm_occurrences SET next_escalation_at = NULL WHERE id = %s", (occurrence["id"],))
            continue
        step = settings.escalation[level - 1]
        at = occurrence["next_escalation_at"]
        following = at + timedelta(seconds=settings.escalation[level].after) if level < len(settings.escalation) \
            else None  # fmt: skip
        conn.execute("UPDATE alarm_occurrences SET notified_level = %s, next_escalation_at = %s WHERE id = %s",
                     (level, following, occurrence["id"]))  # fmt: skip
        conn.execute("INSERT INTO alarm_events (point_id, occurrence_id, at, transition, from_state, to_state, "
                     "by_user, comment) VALUES (%s, %s, %s, 'escalated', 'unacknowledged', 'unacknowledged', "
                     "%s, %s)", (occurrence["point_id"], occurrence["id"], at, store.SYSTEM,
                                 f"level {level}: {step.role}"))  # fmt: skip
        _queue(conn, settings, store.occurrence(conn, occurrence["id"]), level, step.role, now)
    return len(overdue)


def _notify_andon(conn: psycopg.Connection, settings: Dispatch, now: datetime) -> int:
    calls = rows(conn, "SELECT c.*, e.parent_id AS area FROM andon_calls c LEFT JOIN equipment e ON e.id = c.line_id "
                       "WHERE NOT c.notified AND c.resolved_at IS NULL ORDER BY c.id FOR UPDATE OF c SKIP LOCKED")
    for call in calls:
        shift = current_shift(conn, call["line_id"], call["area"], now)
        payload = {"event": "andon.called", "level": 0, "role": call["role"], "shift": shift,
                   "call": {key: (value.isoformat() if isinstance(value, datetime) else value)
                            for key, value in call.items() if key in ("id", "line_id", "kind", "label", "note",
                                                                      "source", "raised_at", "raised_by", "area")}}
        for channel in channels_for(settings, call["role"], call["area"], shift):
            conn.execute(
                "INSERT INTO alarm_notifications (andon_call_id, channel, level, role, recipients, payload, "
                "next_attempt_at, created_at) VALUES (%s, %s, 0, %s, %s, %s, %s, %s)",
                (call["id"], channel.name, call["role"], ", ".join(channel.to) or (channel.url or ""),
                 Jsonb(payload), now, now),
            )  # fmt: skip
        conn.execute("UPDATE andon_calls SET notified = true WHERE id = %s", (call["id"],))
    return len(calls)


def current_shift(conn: psycopg.Connection, line: str | None, area: str | None, at: datetime) -> str | None:
    """The shift on at ``at`` for the alarm's line (or any line of its area), from the shift calendar."""
    row = first(conn, "SELECT s.name FROM shift_instances s JOIN equipment e ON e.id = s.line_id "
                      "WHERE s.period @> %(at)s::timestamptz AND (s.line_id = %(line)s "
                      "OR (%(line)s::text IS NULL AND e.parent_id = %(area)s)) ORDER BY s.line_id LIMIT 1",
                {"at": at, "line": line, "area": area})  # fmt: skip
    return row["name"] if row else None


def channels_for(settings: Dispatch, role: str, area: str | None, shift: str | None) -> list[Channel]:
    """The channels that reach ``role`` for ``area`` during ``shift``."""
    return [c for c in settings.channels
            if (not c.roles or role in c.roles) and (not c.areas or area in c.areas)
            and (not c.shifts or shift in c.shifts)]  # fmt: skip


def _queue(conn: psycopg.Connection, settings: Dispatch, alarm: dict[str, Any], level: int, role: str,
           now: datetime) -> None:
    shift = current_shift(conn, alarm["line"], alarm["area"], now)
    for channel in channels_for(settings, role, alarm["area"], shift):
        conn.execute(
            "INSERT INTO alarm_notifications (occurrence_id, channel, level, role, recipients, payload, "
            "next_attempt_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (alarm["id"], channel.name, level, role, ", ".join(channel.to) or (channel.url or ""),
             Jsonb(alarm_payload(alarm, level, role, shift)), now, now),
        )  # fmt: skip


def alarm_payload(alarm: dict[str, Any], level: int, role: str, shift: str | None) -> dict[str, Any]:
    """The generic JSON a webhook receives (the robots' messages are made from it)."""
    return {
        "event": "alarm.escalated" if level else "alarm.raised", "level": level, "role": role, "shift": shift,
        "alarm": {key: (value.isoformat() if isinstance(value, datetime) else value) for key, value in alarm.items()
                  if key in ("id", "rule", "tag", "kind", "priority", "area", "line", "message", "state", "value",
                             "threshold", "raised_at", "annunciated_at")},
    }  # fmt: skip


# --------------------------------------------------------------------------- sending


def _claim_due(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Due notices, leased for a minute so a crash mid-send retries them instead of losing them."""
    with conn.transaction():
        return sorted(rows(conn, "UPDATE alarm_notifications SET next_attempt_at = %(lease)s WHERE id IN ("
                          "SELECT id FROM alarm_notifications WHERE status = 'pending' AND next_attempt_at <= %(now)s "
                          "ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING *",
                    {"now": now, "lease": now + timedelta(minutes=1)}), key=lambda notice: notice["id"])  # fmt: skip


def _settle(conn: psycopg.Connection, notice: dict[str, Any], settings: Dispatch, error: str | None,
            now: datetime) -> None:
    if error is None:
        conn.execute("UPDATE alarm_notifications SET status = 'sent', sent_at = %s, attempts = attempts + 1, "
                     "last_error = NULL WHERE id = %s", (now, notice["id"]))  # fmt: skip
        return
    attempts = notice["attempts"] + 1
    status = "failed" if attempts >= settings.max_attempts else "pending"
    log.warning("notice %s via %s failed (attempt %d of %d): %s", notice["id"], notice["channel"], attempts,
                settings.max_attempts, error)  # fmt: skip
    conn.execute("UPDATE alarm_notifications SET status = %s, attempts = %s, last_error = %s, next_attempt_at = %s "
                 "WHERE id = %s", (status, attempts, error[:500], now + timedelta(seconds=settings.retry_after),
                                   notice["id"]))  # fmt: skip


def _send(notice: dict[str, Any], settings: Dispatch) -> str | None:
    """Send one notice; None when it went out, else why not."""
    channel = next((c for c in settings.channels if c.name == notice["channel"]), None)
    if channel is None:
        return f"channel {notice['channel']!r} is no longer in the config"
    try:
        if channel.kind == "email":
            send_email(settings, channel, notice["payload"])
        else:
            post_webhook(channel, notice["payload"])
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def summary(payload: dict[str, Any]) -> tuple[str, str]:
    """(title, markdown text) of a notice for people."""
    if "call" in payload:
        call = payload["call"]
        title = f"[ANDON] {call['line_id']}: {call['label'] or call['kind']}"
        lines = [f"**{title}**", f"{call['note'] or call['kind']}, since {call['raised_at']} ({call['source']})",
                 f"for: {payload['role']}" + (f" (shift {payload['shift']})" if payload["shift"] else "")]
        return title, "\n\n".join(lines)
    alarm = payload["alarm"]
    title = f"[{alarm['priority'].upper()}] {alarm['message'] or alarm['rule']}"
    if payload["level"]:
        title = f"ESCALATED (level {payload['level']}) {title}"
    lines = [f"**{title}**", f"tag {alarm['tag']}: value {alarm['value']}, limit {alarm['threshold']}",
             f"area {alarm['area'] or '-'}, line {alarm['line'] or '-'}, since {alarm['raised_at']}",
             f"for: {payload['role']}" + (f" (shift {payload['shift']})" if payload["shift"] else "")]  # fmt: skip
    return title, "\n\n".join(lines)


def robot_message(channel: Channel, payload: dict[str, Any]) -> dict[str, Any]:
    """The body a channel posts: WeCom and DingTalk group robots take markdown messages."""
    title, text = summary(payload)
    if channel.kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    if channel.kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    return payload


def signed_url(channel: Channel, now_ms: int | None = None) -> str:
    """A DingTalk robot URL with its timestamp and HMAC-SHA256 signature, when the channel has a secret."""
    assert channel.url is not None
    if channel.kind != "dingtalk" or not channel.secret:
        return channel.url
    timestamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(channel.secret.encode(), f"{timestamp}\n{channel.secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in channel.url else "?"
    return f"{channel.url}{separator}timestamp={timestamp}&sign={sign}"


def post_webhook(channel: Channel, payload: dict[str, Any]) -> None:
    """POST the channel's message; an HTTP error or a robot's non-zero errcode raises."""
    body = json.dumps(robot_message(channel, payload), ensure_ascii=False).encode()
    request = urllib.request.Request(signed_url(channel), data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as answer:
        text = answer.read(65536).decode("utf-8", "replace")
    if channel.kind in ("wecom", "dingtalk"):
        try:
            code = json.loads(text).get("errcode", 0)
        except (ValueError, AttributeError):
            raise ValueError(f"the robot answered {text[:200]!r}") from None
        if code:
            raise ValueError(f"the robot refused the message: {text[:200]}")


def send_email(settings: Dispatch, channel: Channel, payload: dict[str, Any]) -> None:
    title, text = summary(payload)
    message = EmailMessage()
    message["Subject"] = title
    message["From"] = settings.smtp.sender
    message["To"] = ", ".join(channel.to)
    message.set_content(text.replace("**", ""))
    send_mail(settings.smtp, message, SEND_TIMEOUT_S)


def send_mail(smtp: Smtp, message: EmailMessage, timeout: float) -> None:
    """Send ``message`` over the plant's SMTP server (STARTTLS and login when configured); raises
    ``OSError``/``smtplib.SMTPException`` on failure. Alarm notices and mailed reports use it."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


def notifications(conn: psycopg.Connection, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Notices, newest first (failed ones are what people look for)."""
    return rows(conn, "SELECT id, occurrence_id, andon_call_id, channel, level, role, recipients, status, attempts, "
                      "next_attempt_at, last_error, created_at, sent_at FROM alarm_notifications "
                      "WHERE (%(status)s::text IS NULL OR status = %(status)s) ORDER BY id DESC LIMIT %(limit)s",
                {"status": status, "limit": limit})  # fmt: skip
