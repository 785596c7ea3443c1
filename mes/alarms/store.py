"""Alarm points, occurrences and transitions in the database: the evaluator's changes and people's actions.

Every transition goes through :func:`_transition`: it applies the pure state
machine (:mod:`mes.alarms.states`) to the occurrence row locked FOR UPDATE,
writes the row and appends one ``alarm_events`` row (time, user, comment), in
the caller's transaction. The partial unique index on open occurrences makes a
second open occurrence of one point impossible, whatever process raises it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg

from collectors.config.alarms import AlarmRule
from mes.alarms import andon, maintenance, states
from mes.alarms.andon import AndonButton
from mes.alarms.condition import Forecast, MaintenanceDue, zone
from mes.alarms.conditions import Condition, condition
from mes.alarms.engine import Change, ChangeKind
from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, NotFound

SYSTEM = "system"
Key = tuple[str, str]


def sync_points(conn: psycopg.Connection, conditions: Iterable[Condition]) -> dict[Key, int]:
    """Create or update the point of every condition (its rule's priority, area, role...); their ids."""
    ids: dict[Key, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        for item in conditions:
            rule = item.rule
            cur.execute(
                "INSERT INTO alarm_points (rule, tag, kind, priority, area, line, role, message, latched, "
                "ack_within_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (rule, tag) DO UPDATE SET "
                "kind = excluded.kind, priority = excluded.priority, area = excluded.area, line = excluded.line, "
                "role = excluded.role, message = excluded.message, latched = excluded.latched, "
                "ack_within_s = excluded.ack_within_s RETURNING id",
                (rule.name, item.tag, rule.kind, rule.priority, rule.area, rule.line, rule.role, rule.message,
                 rule.latched, rule.ack_within),
            )  # fmt: skip
            row = cur.fetchone()
            assert row is not None
            ids[item.key] = int(row[0])
    return ids


def stored_states(conn: psycopg.Connection) -> tuple[dict[Key, bool], set[Key]]:
    """Per point with an open occurrence: is its condition active; and the points suppressed by design."""
    active = {(r["rule"], r["tag"]): r["active"] for r in rows(conn,
              "SELECT p.rule, p.tag, o.active FROM alarm_occurrences o JOIN alarm_points p ON p.id = o.point_id "
              "WHERE o.ended_at IS NULL")}  # fmt: skip
    suppressed = {(r["rule"], r["tag"]) for r in rows(conn,
                  "SELECT rule, tag FROM alarm_points WHERE mode = 'suppressed'")}  # fmt: skip
    return active, suppressed


# --------------------------------------------------------------------------- core


def _occurrence(row: dict[str, Any]) -> states.Occurrence:
    return states.Occurrence(row["state"], row["active"], row["acknowledged"])


def _event(conn: psycopg.Connection, point_id: int, occurrence_id: int | None, at: datetime, transition: str,
           before: str | None, after: str | None, user: str, comment: str = "", value: float | None = None) -> None:
    conn.execute(
        "INSERT INTO alarm_events (point_id, occurrence_id, at, transition, from_state, to_state, by_user, comment, "
        "value) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (point_id, occurrence_id, at, transition, before, after, user, comment, value),
    )  # fmt: skip


def _transition(conn: psycopg.Connection, row: dict[str, Any], new: states.Occurrence, transition: str,
                user: str, at: datetime, comment: str = "", value: float | None = None) -> dict[str, Any]:
    """Store ``new`` for the occurrence ``row`` and its event; the updated row."""
    annunciate = new.state == "unacknowledged" and row["state"] != "unacknowledged"
    updated = first(
        conn,
        "UPDATE alarm_occurrences SET state = %(state)s, active = %(active)s, acknowledged = %(ack)s, "
        "annunciated_at = CASE WHEN %(annunciate)s THEN coalesce(annunciated_at, %(at)s) ELSE annunciated_at END, "
        "notified_level = CASE WHEN %(annunciate)s AND annunciated_at IS NOT NULL THEN NULL ELSE notified_level END, "
        "acknowledged_at = CASE WHEN %(ack)s AND NOT acknowledged THEN %(at)s "
        "                       WHEN NOT %(ack)s THEN NULL ELSE acknowledged_at END, "
        "acknowledged_by = CASE WHEN %(ack)s AND NOT acknowledged THEN %(user)s "
        "                       WHEN NOT %(ack)s THEN NULL ELSE acknowledged_by END, "
        "cleared_at = CASE WHEN active AND NOT %(active)s THEN %(at)s ELSE cleared_at END, "
        "next_escalation_at = CASE WHEN %(state)s = 'unacknowledged' THEN next_escalation_at END, "
        "ended_at = CASE WHEN %(state)s = 'normal' THEN %(at)s END "
        "WHERE id = %(id)s RETURNING *",
        {"state": new.state, "active": new.active, "ack": new.acknowledged, "annunciate": annunciate, "at": at,
         "user": user, "id": row["id"]},
    )  # fmt: skip
    assert updated is not None
    _event(conn, row["point_id"], row["id"], at, transition, row["state"], new.state, user, comment, value)
    return updated


def _open(conn: psycopg.Connection, point_id: int) -> dict[str, Any] | None:
    return first(conn, "SELECT * FROM alarm_occurrences WHERE point_id = %s AND ended_at IS NULL FOR UPDATE",
                 (point_id,))  # fmt: skip


def _point(conn: psycopg.Connection, point_id: int) -> dict[str, Any]:
    point = first(conn, "SELECT * FROM alarm_points WHERE id = %s FOR UPDATE", (point_id,))
    if point is None:
        raise NotFound(f"alarm point {point_id}: not in the database", field="point_id")
    return point


# --------------------------------------------------------------------------- the evaluator's changes


def record_change(conn: psycopg.Connection, point_id: int, change: Change) -> dict[str, Any] | None:
    """Record one change from the engine (in the caller's transaction); the occurrence it touched."""
    if change.kind == "forecast":
        _store_forecast(conn, point_id, change)
        return None
    if isinstance(change.condition, AndonButton):  # a PLC's andon button: a call, not an alarm
        if change.kind == "raised":
            button = change.condition.button
            andon.raise_call(conn, button.line, button.kind, SYSTEM, change.at, button.label, source="plc",
                             role=button.role)  # fmt: skip
        return None
    point = _point(conn, point_id)
    current = _open(conn, point_id)
    if change.kind == "raised":
        occurrence = _raise(conn, point, current, change)
        if occurrence is not None and isinstance(change.condition, MaintenanceDue):
            _open_work_order(conn, change.condition, change.forecast, occurrence, change.at)
        return occurrence
    if change.kind == "cleared":
        if current is None or not current["active"]:
            return None  # nothing open (e.g. raised before the alarm tables existed): nothing to clear
        return _transition(conn, current, states.clear(_occurrence(current), point["latched"]), "cleared",
                           SYSTEM, change.at, value=change.value)  # fmt: skip
    if change.kind == "suppressed":
        return _set_mode(conn, point, "suppressed", SYSTEM, change.at, "line state", None, only_from="in_service")
    return _set_mode(conn, point, "in_service", SYSTEM, change.at, "line state", None, only_from="suppressed")


def record_signal(conn: psycopg.Connection, rule: AlarmRule, kind: ChangeKind, at: datetime,
                  value: float | None = None) -> dict[str, Any] | None:
    """Raise or clear the alarm of a rule another domain builds in code (a recipe variance, a process
    excursion, an SPC violation): its point is created on first use, and the change goes through the same
    ISA-18.2 states as the evaluator's (a second raise of an active alarm adds nothing)."""
    assert rule.tag is not None
    item = condition(rule, rule.tag)
    [point_id] = sync_points(conn, [item]).values()
    return record_change(conn, point_id, Change(kind, item, at, value))


def _store_forecast(conn: psycopg.Connection, point_id: int, change: Change) -> None:
    monitor = change.condition
    assert isinstance(monitor, MaintenanceDue) and change.value is not None
    latest = change.forecast
    eta = (lambda t: datetime.fromtimestamp(t, change.at.tzinfo)) if latest else None
    conn.execute(
        "INSERT INTO condition_forecasts (asset, point_id, at, velocity, zone, model, fit, rate, eta_c, eta_d) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (monitor.asset.id, point_id, change.at, change.value, zone(change.value, monitor.boundaries),
         latest.model if latest else None, latest.fit if latest else None, latest.rate if latest else None,
         eta(latest.eta_c) if eta and latest else None, eta(latest.eta_d) if eta and latest else None),
    )  # fmt: skip


def _open_work_order(conn: psycopg.Connection, monitor: MaintenanceDue, latest: Forecast | None,
                     occurrence: dict[str, Any], at: datetime) -> None:
    if not monitor.asset.work_orders:
        return
    eta_d = datetime.fromtimestamp(latest.eta_d, at.tzinfo) if latest else None
    reason = (f"maintenance due: zone D forecast {eta_d:%Y-%m-%d %H:%M} UTC ({latest.model} trend, "
              f"R² {latest.fit:.2f})" if latest and eta_d else "maintenance due: vibration in zone D")
    maintenance.open_order(conn, monitor.asset.id, "predictive", reason, SYSTEM, at, occurrence["id"], eta_d)


def _raise(conn: psycopg.Connection, point: dict[str, Any], current: dict[str, Any] | None,
           change: Change) -> dict[str, Any] | None:
    if current is not None and current["active"]:
        return None  # already raised: a restart that missed the clear, or two evaluators; never a duplicate
    if current is not None:  # returned-unacknowledged or latched and now back: that occurrence ends here
        _transition(conn, current, states.Occurrence("normal", False, current["acknowledged"]), "superseded",
                    SYSTEM, change.at)  # fmt: skip
    new = states.activate(point["mode"])
    occurrence = first(
        conn,
        "INSERT INTO alarm_occurrences (point_id, state, active, priority, raised_at, annunciated_at, value, "
        "threshold) VALUES (%s, %s, true, %s, %s, %s, %s, %s) RETURNING *",
        (point["id"], new.state, point["priority"], change.at,
         change.at if new.state == "unacknowledged" else None, change.value, change.condition.limit),
    )  # fmt: skip
    assert occurrence is not None
    _event(conn, point["id"], occurrence["id"], change.at, "raised", None, new.state, SYSTEM, value=change.value)
    return occurrence


def _set_mode(conn: psycopg.Connection, point: dict[str, Any], mode: states.Mode, user: str, at: datetime,
              comment: str, until: datetime | None, only_from: str | None = None) -> dict[str, Any] | None:
    """Change a point's mode and hide or show its open occurrence."""
    if only_from is not None and point["mode"] != only_from:
        return None  # suppression by design never overrides shelving or out of service
    conn.execute("UPDATE alarm_points SET mode = %s, shelved_until = %s, mode_since = %s, mode_by = %s, "
                 "mode_comment = %s WHERE id = %s", (mode, until, at, user, comment, point["id"]))  # fmt: skip
    current = _open(conn, point["id"])
    transition = {"shelved": "shelved", "suppressed": "suppressed", "out_of_service": "removed_from_service",
                  "in_service": f"{point['mode']}_ended"}[mode]  # fmt: skip
    if current is None:
        _event(conn, point["id"], None, at, transition, point["mode"], mode, user, comment)
        return None
    if mode == "in_service":
        new = states.show(_occurrence(current)) if current["state"] in states.HIDDEN else _occurrence(current)
    else:
        new = states.hide(_occurrence(current), mode)
    return _transition(conn, current, new, transition, user, at, comment)


# --------------------------------------------------------------------------- people's actions


def _occurrence_row(conn: psycopg.Connection, occurrence_id: int) -> dict[str, Any]:
    row = first(conn, "SELECT * FROM alarm_occurrences WHERE id = %s FOR UPDATE", (occurrence_id,))
    if row is None:
        raise NotFound(f"alarm {occurrence_id}: no such alarm", field="occurrence_id")
    return row


def acknowledge(conn: psycopg.Connection, occurrence_id: int, user: str, at: datetime,
                comment: str = "") -> dict[str, Any]:
    """Acknowledge an alarm (unacknowledged, returned-unacknowledged or latched)."""
    row = _occurrence_row(conn, occurrence_id)
    return _transition(conn, row, states.acknowledge(_occurrence(row)), "acknowledged", user, at, comment)


def reset(conn: psycopg.Connection, occurrence_id: int, user: str, at: datetime, comment: str = "") -> dict[str, Any]:
    """Reset a latched alarm whose condition has cleared."""
    row = _occurrence_row(conn, occurrence_id)
    return _transition(conn, row, states.reset(_occurrence(row)), "reset", user, at, comment)


def shelve(conn: psycopg.Connection, point_id: int, user: str, at: datetime, until: datetime,
           comment: str) -> dict[str, Any]:
    """Shelve a point until ``until`` (it comes back by itself then); a comment says why."""
    if until <= at:
        raise InvalidInput("shelving must end in the future", field="until")
    if not comment.strip():
        raise InvalidInput("say why the alarm is shelved", field="comment")
    point = _point(conn, point_id)
    if point["mode"] not in ("in_service", "shelved", "suppressed"):
        raise Conflict(f"the alarm point is {point['mode']}")
    _set_mode(conn, point, "shelved", user, at, comment, until)
    return _point(conn, point_id)


def unshelve(conn: psycopg.Connection, point_id: int, user: str, at: datetime, comment: str = "") -> dict[str, Any]:
    point = _point(conn, point_id)
    if point["mode"] != "shelved":
        raise Conflict(f"the alarm point is not shelved ({point['mode']})")
    _set_mode(conn, point, "in_service", user, at, comment or "unshelved", None)
    return _point(conn, point_id)


def remove_from_service(conn: psycopg.Connection, point_id: int, user: str, at: datetime,
                        comment: str) -> dict[str, Any]:
    """Take a point out of service (e.g. its instrument is being repaired)."""
    if not comment.strip():
        raise InvalidInput("say why the alarm is taken out of service", field="comment")
    point = _point(conn, point_id)
    _set_mode(conn, point, "out_of_service", user, at, comment, None)
    return _point(conn, point_id)


def return_to_service(conn: psycopg.Connection, point_id: int, user: str, at: datetime,
                      comment: str = "") -> dict[str, Any]:
    point = _point(conn, point_id)
    if point["mode"] != "out_of_service":
        raise Conflict(f"the alarm point is not out of service ({point['mode']})")
    _set_mode(conn, point, "in_service", user, at, comment or "returned to service", None)
    return _point(conn, point_id)


def expire_shelving(conn: psycopg.Connection, now: datetime) -> list[int]:
    """Unshelve every point whose shelving has expired by ``now``; their ids."""
    expired = []
    for point in rows(conn, "SELECT * FROM alarm_points WHERE mode = 'shelved' AND shelved_until <= %s "
                            "ORDER BY id FOR UPDATE", (now,)):  # fmt: skip
        _set_mode(conn, point, "in_service", SYSTEM, point["shelved_until"], "shelving expired", None)
        expired.append(int(point["id"]))
    return expired


def close(conn: psycopg.Connection, occurrence_id: int, user: str, at: datetime, cause: str,
          action: str) -> dict[str, Any]:
    """Close an alarm that is over: a person records its cause and the action taken (闭环)."""
    if not cause.strip():
        raise InvalidInput("closing an alarm needs its cause", field="cause")
    if not action.strip():
        raise InvalidInput("closing an alarm needs the action taken", field="action")
    row = _occurrence_row(conn, occurrence_id)
    if row["state"] != "normal":
        raise Conflict(f"the alarm is still {row['state']}: acknowledge it and let it clear first")
    if row["closed_at"] is not None:
        raise Conflict("the alarm is closed already")
    closed = first(conn, "UPDATE alarm_occurrences SET closed_at = %s, closed_by = %s, cause = %s, action = %s "
                         "WHERE id = %s RETURNING *", (at, user, cause.strip(), action.strip(), occurrence_id))
    _event(conn, row["point_id"], occurrence_id, at, "closed", "normal", "normal", user,
           f"cause: {cause.strip()}; action: {action.strip()}")  # fmt: skip
    assert closed is not None
    return closed


# --------------------------------------------------------------------------- reads

_LIST = ("SELECT o.*, p.rule, p.tag, p.kind, p.area, p.line, p.role, p.message, p.mode, p.shelved_until, "
         "p.latched FROM alarm_occurrences o JOIN alarm_points p ON p.id = o.point_id ")  # fmt: skip


def active_alarms(conn: psycopg.Connection, area: str | None = None) -> list[dict[str, Any]]:
    """Open occurrences (shown and hidden), most urgent and oldest first."""
    return rows(conn, _LIST + "WHERE o.ended_at IS NULL AND (%(area)s::text IS NULL OR p.area = %(area)s) "
                "ORDER BY array_position(ARRAY['urgent','high','medium','low'], o.priority), o.raised_at",
                {"area": area})  # fmt: skip


def history(conn: psycopg.Connection, since: datetime, until: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Occurrences raised in [since, until), newest first."""
    return rows(conn, _LIST + "WHERE o.raised_at >= %s AND o.raised_at < %s ORDER BY o.raised_at DESC LIMIT %s",
                (since, until, limit))  # fmt: skip


def occurrence(conn: psycopg.Connection, occurrence_id: int) -> dict[str, Any]:
    row = first(conn, _LIST + "WHERE o.id = %s", (occurrence_id,))
    if row is None:
        raise NotFound(f"alarm {occurrence_id}: no such alarm", field="occurrence_id")
    return row


def events(conn: psycopg.Connection, occurrence_id: int | None = None, point_id: int | None = None) -> list[dict]:
    """Transitions of an occurrence or a point, in order."""
    return rows(conn, "SELECT * FROM alarm_events WHERE (%(o)s::bigint IS NULL OR occurrence_id = %(o)s) "
                      "AND (%(p)s::bigint IS NULL OR point_id = %(p)s) ORDER BY at, id",
                {"o": occurrence_id, "p": point_id})  # fmt: skip


def points(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM alarm_points ORDER BY rule, tag")
