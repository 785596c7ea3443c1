"""Andon calls: a line calls for material, maintenance, quality, process help or a custom kind, from the line
page or a PLC button, and the call is timed until someone acknowledges it and until it is resolved.

One call per line, kind and label is open at a time (a second press of the same button is the same call).
A PLC button is an andon entry in the config (``alarms.andon``); :class:`AndonButton` watches its tag in the
alarm engine and the store raises the call when it is pressed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from collectors.config.alarms import AlarmRule, AndonButtonConfig
from mes.alarms.conditions import Digital
from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, NotFound

KINDS = ("material", "maintenance", "quality", "process", "custom")
# Who answers a call of each kind unless the config says otherwise.
ROLE_OF_KIND = {"material": "operator", "maintenance": "maintenance", "quality": "quality", "process": "supervisor",
                "custom": "supervisor"}  # fmt: skip


def raise_call(conn: psycopg.Connection, line_id: str, kind: str, user: str, at: datetime, label: str = "",
               note: str = "", source: str = "page", role: str | None = None) -> dict[str, Any]:
    """Open a call (or return the open one of the same line, kind and label)."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if kind == "custom" and not label.strip():
        raise InvalidInput("a custom call needs a label", field="label")
    if first(conn, "SELECT 1 FROM equipment WHERE id = %s AND level = 'line'", (line_id,)) is None:
        raise NotFound(f"line {line_id}: no such line", field="line_id")
    existing = first(conn, "SELECT * FROM andon_calls WHERE line_id = %s AND kind = %s AND label = %s "
                           "AND resolved_at IS NULL", (line_id, kind, label.strip()))  # fmt: skip
    if existing is not None:
        return existing
    call = first(conn, "INSERT INTO andon_calls (line_id, kind, label, note, source, role, raised_at, raised_by) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
                 (line_id, kind, label.strip(), note.strip(), source, role or ROLE_OF_KIND[kind], at, user))
    assert call is not None
    return call


def _call(conn: psycopg.Connection, call_id: int) -> dict[str, Any]:
    call = first(conn, "SELECT * FROM andon_calls WHERE id = %s FOR UPDATE", (call_id,))
    if call is None:
        raise NotFound(f"andon call {call_id}: no such call", field="call_id")
    return call


def acknowledge_call(conn: psycopg.Connection, call_id: int, user: str, at: datetime) -> dict[str, Any]:
    """Someone is on the way: the call's time to acknowledge stops."""
    call = _call(conn, call_id)
    if call["acknowledged_at"] is not None or call["resolved_at"] is not None:
        raise Conflict("the call is acknowledged already")
    updated = first(conn, "UPDATE andon_calls SET acknowledged_at = greatest(%s, raised_at), acknowledged_by = %s "
                          "WHERE id = %s RETURNING *", (at, user, call_id))  # fmt: skip
    assert updated is not None
    return updated


def resolve_call(conn: psycopg.Connection, call_id: int, user: str, at: datetime, resolution: str) -> dict[str, Any]:
    """The line has what it needed; a resolution says what was done (acknowledges too, if nobody had)."""
    if not resolution.strip():
        raise InvalidInput("say how the call was resolved", field="resolution")
    call = _call(conn, call_id)
    if call["resolved_at"] is not None:
        raise Conflict("the call is resolved already")
    updated = first(conn, "UPDATE andon_calls SET resolved_at = greatest(%(at)s, raised_at), resolved_by = %(user)s, "
                          "resolution = %(resolution)s, acknowledged_at = coalesce(acknowledged_at, "
                          "greatest(%(at)s, raised_at)), acknowledged_by = coalesce(acknowledged_by, %(user)s) "
                          "WHERE id = %(id)s RETURNING *",
                    {"at": at, "user": user, "resolution": resolution.strip(), "id": call_id})  # fmt: skip
    assert updated is not None
    return updated


_TIMES = ("SELECT *, extract(epoch FROM acknowledged_at - raised_at)::float8 AS seconds_to_acknowledge, "
          "extract(epoch FROM resolved_at - raised_at)::float8 AS seconds_to_resolve FROM andon_calls ")  # fmt: skip


def open_calls(conn: psycopg.Connection, line_id: str | None = None) -> list[dict[str, Any]]:
    """Unresolved calls, oldest first."""
    return rows(conn, _TIMES + "WHERE resolved_at IS NULL AND (%(line)s::text IS NULL OR line_id = %(line)s) "
                "ORDER BY raised_at, id", {"line": line_id})  # fmt: skip


def calls(conn: psycopg.Connection, since: datetime, until: datetime,
          line_id: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Calls raised in [since, until) with their times to acknowledge and to resolve (seconds), newest first."""
    return rows(conn, _TIMES + "WHERE raised_at >= %(since)s AND raised_at < %(until)s "
                "AND (%(line)s::text IS NULL OR line_id = %(line)s) ORDER BY raised_at DESC, id DESC",
                {"since": since, "until": until, "line": line_id})  # fmt: skip


def totals_by_kind(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per kind of the given calls (rows of :func:`calls`): how many, how many are not yet acknowledged or
    resolved, and the mean times to acknowledge and to resolve of those that were (seconds, None when none was)."""
    totals = []
    for kind in KINDS:
        of_kind = [c for c in calls if c["kind"] == kind]
        if not of_kind:
            continue
        acked = [c["seconds_to_acknowledge"] for c in of_kind if c["seconds_to_acknowledge"] is not None]
        resolved = [c["seconds_to_resolve"] for c in of_kind if c["seconds_to_resolve"] is not None]
        totals.append({"kind": kind, "count": len(of_kind), "not_acknowledged": len(of_kind) - len(acked),
                       "not_resolved": len(of_kind) - len(resolved),
                       "mean_seconds_to_acknowledge": sum(acked) / len(acked) if acked else None,
                       "mean_seconds_to_resolve": sum(resolved) / len(resolved) if resolved else None})  # fmt: skip
    return totals


class AndonButton(Digital):
    """A PLC's andon button: pressed (its ``state``) raises a call on its line."""

    __slots__ = ("button",)

    def __init__(self, rule: AlarmRule, tag: str, button: AndonButtonConfig) -> None:
        super().__init__(rule, tag)
        self.button = button


def button_rule(button: AndonButtonConfig) -> AlarmRule:
    label = button.label or button.kind
    return AlarmRule(name=f"andon_{button.line}_{button.kind}_{button.tag}", tag=button.tag, kind="digital",
                     state=button.state, priority="medium", line=button.line, suppress_in=[],
                     role=button.role or ROLE_OF_KIND[button.kind], message=f"Andon: {label} on {button.line}")
