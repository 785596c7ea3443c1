"""Downtime events and their reasons.

A stop is a maximal period in which the unit is not running; a period of no data
(state ``unknown``) is its own event of kind ``no_data``. Events are derived from
the state intervals and keyed by their start, so re-deriving the provisional tail
updates the same rows. A stop whose fault code is listed under a reason of the
line's reason tree gets that reason automatically.

People assign and reclassify reasons, split a stop in two or merge several. None
of that overwrites anything: an assignment is a new row (the latest counts), and a
split or merge writes new events and marks the old ones superseded by the
correction that records who, when and why.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from collectors.config.models import Plant
from mes.db import first, rows, scalar
from mes.errors import Conflict, InvalidInput, NotFound

SYSTEM_USER = "system"


def sync_reasons(conn: psycopg.Connection, plant: Plant) -> None:
    """Upsert each line's reason tree; reasons no longer configured are deactivated (assignments keep them)."""
    for line in plant.lines():
        codes = []
        for reason in line.downtime_reasons:
            codes.append(reason.code)
            conn.execute(
                "INSERT INTO downtime_reasons (line_id, code, name, category, time_element, loss, fault_codes, active) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, true) ON CONFLICT (line_id, code) DO UPDATE SET "
                "name = EXCLUDED.name, category = EXCLUDED.category, time_element = EXCLUDED.time_element, "
                "loss = EXCLUDED.loss, fault_codes = EXCLUDED.fault_codes, active = true, source = 'config'",
                (line.id, reason.code, reason.name, reason.category, reason.time_element, reason.loss,
                 reason.fault_codes),
            )  # fmt: skip
        conn.execute(
            "UPDATE downtime_reasons SET active = false WHERE line_id = %s AND NOT (code = ANY(%s)) "
            "AND source = 'config'", (line.id, codes)
        )  # reasons added on the admin page (source 'page') stay


def reason_tree(conn: psycopg.Connection, line_id: str) -> list[dict]:
    """Categories with their active reasons: ``[{category, reasons: [...]}, ...]``."""
    found = rows(
        conn,
        "SELECT code, name, category, time_element, loss, fault_codes, source FROM downtime_reasons "
        "WHERE line_id = %s AND active ORDER BY category, code",
        (line_id,),
    )
    tree: dict[str, list[dict]] = {}
    for row in found:
        tree.setdefault(row["category"], []).append(row)
    return [{"category": category, "reasons": reasons} for category, reasons in tree.items()]


# --------------------------------------------------------------------------- derivation


def derive_events(conn: psycopg.Connection, unit: dict, changed_from: datetime) -> None:
    """Re-derive the unit's events that overlap [changed_from, ...) from its state intervals."""
    row = conn.execute(
        "SELECT min(lower(period)) FROM downtime_events WHERE equipment_id = %s AND source = 'derived' "
        "AND (upper(period) >= %s OR upper(period) IS NULL)",
        (unit["id"], changed_from),
    ).fetchone()
    assert row is not None  # one row: an aggregate or RETURNING
    start = min(changed_from, row[0]) if row[0] else changed_from
    intervals = conn.execute(
        "SELECT lower(period), upper(period), state, fault_code FROM state_intervals "
        "WHERE equipment_id = %s AND (upper(period) > %s OR upper(period) IS NULL) ORDER BY lower(period)",
        (unit["id"], start),
    ).fetchall()
    events: list[list] = []  # [start, end, kind, state, fault_code]
    for lo, hi, state, fault in intervals:
        if state == "running":
            continue
        kind = "no_data" if state == "unknown" else "stop"
        if events and events[-1][1] == lo and events[-1][2] == kind:
            events[-1][1] = hi
        else:
            events.append([lo, hi, kind, state, fault])
    kept = []
    for lo, hi, kind, state, fault in events:
        row = conn.execute(
            "INSERT INTO downtime_events (equipment_id, line_id, period, kind, state, fault_code, source) "
            "VALUES (%s, %s, tstzrange(%s, %s), %s, %s, %s, 'derived') "
            "ON CONFLICT (equipment_id, lower(period)) WHERE source = 'derived' DO UPDATE SET "
            "period = EXCLUDED.period, kind = EXCLUDED.kind, state = EXCLUDED.state, fault_code = EXCLUDED.fault_code "
            "RETURNING id",
            (unit["id"], unit["line_id"], lo, hi, kind, state, fault),
        ).fetchone()
        assert row is not None  # one row: an aggregate or RETURNING
        kept.append(row[0])
        if kind == "stop" and fault is not None:
            _auto_assign(conn, row[0], unit["line_id"], fault)
    # Provisional events that vanished (e.g. a no-data tail later filled by samples),
    # unless a person already worked on them.
    conn.execute(
        "DELETE FROM downtime_assignments WHERE automatic AND event_id IN (SELECT id FROM downtime_events "
        "WHERE equipment_id = %(unit)s AND source = 'derived' AND lower(period) >= %(start)s "
        "AND superseded_by IS NULL AND NOT (id = ANY(%(kept)s)))",
        {"unit": unit["id"], "start": start, "kept": kept},
    )
    conn.execute(
        "DELETE FROM downtime_events ev WHERE equipment_id = %(unit)s AND source = 'derived' "
        "AND lower(period) >= %(start)s AND superseded_by IS NULL AND NOT (id = ANY(%(kept)s)) "
        "AND NOT EXISTS (SELECT 1 FROM downtime_assignments a WHERE a.event_id = ev.id)",
        {"unit": unit["id"], "start": start, "kept": kept},
    )


def _auto_assign(conn: psycopg.Connection, event_id: int, line_id: str, fault_code: int) -> None:
    conn.execute(
        "INSERT INTO downtime_assignments (event_id, line_id, reason_code, automatic, by_user, why) "
        "SELECT %(event)s, r.line_id, r.code, true, %(user)s, 'fault code ' || %(fault)s "
        "FROM downtime_reasons r WHERE r.line_id = %(line)s AND r.active AND %(fault)s = ANY(r.fault_codes) "
        "AND NOT EXISTS (SELECT 1 FROM downtime_assignments a WHERE a.event_id = %(event)s) "
        "ORDER BY r.code LIMIT 1",
        {"event": event_id, "line": line_id, "fault": fault_code, "user": SYSTEM_USER},
    )


# --------------------------------------------------------------------------- reading


EVENT_COLUMNS = (
    "event_id AS id, equipment_id, line_id, lower(period) AS start, upper(period) AS end, "
    "extract(epoch FROM upper(period) - lower(period))::float AS seconds, kind, state, fault_code, source, "
    "reason_code, reason_name, category, time_element, loss, automatic, assigned_by, assigned_at"
)


def list_events(conn: psycopg.Connection, unit_id: str, start: datetime, end: datetime,
                kind: str | None = None, unassigned: bool = False) -> list[dict]:
    """Active events of a unit overlapping [start, end), with their current reason (only
    those without one when ``unassigned``)."""
    return rows(
        conn,
        f"SELECT {EVENT_COLUMNS} FROM mes_downtime_current WHERE equipment_id = %s AND period && tstzrange(%s, %s) "
        "AND (%s::text IS NULL OR kind = %s) AND (NOT %s OR reason_code IS NULL) ORDER BY lower(period)",
        (unit_id, start, end, kind, kind, unassigned),
    )


def get_event(conn: psycopg.Connection, event_id: int) -> dict:
    row = first(conn, f"SELECT {EVENT_COLUMNS} FROM mes_downtime_current WHERE event_id = %s", (event_id,))
    if row is None:
        raise NotFound(f"no active downtime event {event_id}", field="event_id")
    return row


def event_history(conn: psycopg.Connection, event_id: int) -> list[dict]:
    """Every reason assignment of an event, oldest first."""
    return rows(
        conn,
        "SELECT id, reason_code, automatic, by_user, at, why FROM downtime_assignments WHERE event_id = %s "
        "ORDER BY id",
        (event_id,),
    )


# --------------------------------------------------------------------------- corrections


def assign_reason(conn: psycopg.Connection, event_id: int, reason_code: str, by: str, why: str = "") -> dict:
    """Assign or reclassify: a new assignment row; the previous ones stay as history."""
    event = get_event(conn, event_id)
    reason = conn.execute(
        "SELECT 1 FROM downtime_reasons WHERE line_id = %s AND code = %s AND active", (event["line_id"], reason_code)
    ).fetchone()
    if reason is None:
        raise InvalidInput(f"line {event['line_id']} has no reason {reason_code!r}", field="reason_code")
    row = conn.execute(
        "INSERT INTO downtime_assignments (event_id, line_id, reason_code, automatic, by_user, why) "
        "VALUES (%s, %s, %s, false, %s, %s) RETURNING id",
        (event_id, event["line_id"], reason_code, by, why),
    ).fetchone()
    assert row is not None
    return {**get_event(conn, event_id), "assignment_id": int(row[0])}


UNDO_WINDOW = timedelta(seconds=60)


def undo_assignment(conn: psycopg.Connection, assignment_id: int, by: str, now: datetime | None = None) -> dict:
    """Take back one's own assignment moments after making it (the pages offer it for 10 s; the
    server allows :data:`UNDO_WINDOW`): the event's reason is the one before it again. Only the
    latest, manual assignment of an event, by the same person, can be undone."""
    with conn.transaction():
        row = first(
            conn,
            "SELECT a.event_id, a.by_user, a.automatic, a.at, a.id = (SELECT max(b.id) FROM downtime_assignments b "
            "WHERE b.event_id = a.event_id) AS latest FROM downtime_assignments a WHERE a.id = %s FOR UPDATE",
            (assignment_id,),
        )
        if row is None:
            raise NotFound(f"no reason assignment {assignment_id}", field="assignment_id")
        at = now or datetime.now(row["at"].tzinfo)
        if row["automatic"] or row["by_user"] != by or not row["latest"] or at - row["at"] > UNDO_WINDOW:
            raise Conflict("only your own latest assignment can be undone, within a minute", field="assignment_id")
        conn.execute("DELETE FROM downtime_assignments WHERE id = %s", (assignment_id,))
    return get_event(conn, row["event_id"])


def _closed(conn: psycopg.Connection, event: dict) -> None:
    latest = scalar(conn, "SELECT max(upper(period)) FROM state_intervals WHERE equipment_id = %s",
                    (event["equipment_id"],))
    if event["end"] is None or (latest is not None and event["end"] >= latest):
        raise Conflict(f"event {event['id']} is still open: split or merge it once it has ended", field="event_id")


def _new_event(conn: psycopg.Connection, template: dict, start: datetime, end: datetime, source: str,
               correction: int) -> int:
    row = conn.execute(
        "INSERT INTO downtime_events (equipment_id, line_id, period, kind, state, fault_code, source, "
        "created_by_correction) VALUES (%s, %s, tstzrange(%s, %s), %s, %s, %s, %s, %s) RETURNING id",
        (template["equipment_id"], template["line_id"], start, end, template["kind"], template["state"],
         template["fault_code"], source, correction),
    ).fetchone()  # fmt: skip
    assert row is not None  # one row: an aggregate or RETURNING
    return int(row[0])


def _carry_reason(conn: psycopg.Connection, event_id: int, line_id: str, reason_code: str | None, by: str,
                  why: str) -> None:
    if reason_code is not None:
        conn.execute(
            "INSERT INTO downtime_assignments (event_id, line_id, reason_code, automatic, by_user, why) "
            "VALUES (%s, %s, %s, false, %s, %s)",
            (event_id, line_id, reason_code, by, why),
        )


def split_event(conn: psycopg.Connection, event_id: int, at: datetime, by: str, why: str) -> list[dict]:
    """Split a closed stop at ``at`` into two events that keep its reason."""
    with conn.transaction():
        event = get_event(conn, event_id)
        _closed(conn, event)
        if not event["start"] < at < event["end"]:
            raise InvalidInput(f"split time must be inside the event ({event['start']} .. {event['end']})", field="at")
        correction = _correction(conn, "split", by, why)
        ids = [
            _new_event(conn, event, event["start"], at, "split", correction),
            _new_event(conn, event, at, event["end"], "split", correction),
        ]
        conn.execute("UPDATE downtime_events SET superseded_by = %s WHERE id = %s", (correction, event_id))
        for new_id in ids:
            _carry_reason(conn, new_id, event["line_id"], event["reason_code"], by, f"split from event {event_id}")
    return [get_event(conn, new_id) for new_id in ids]


def merge_events(conn: psycopg.Connection, event_ids: list[int], by: str, why: str,
                 reason_code: str | None = None) -> dict:
    """Merge closed events of one unit into one spanning them; the reason is ``reason_code``
    or, when not given, the first event's."""
    if len(set(event_ids)) < 2:
        raise InvalidInput("give at least two different events to merge", field="event_ids")
    with conn.transaction():
        events = sorted((get_event(conn, eid) for eid in set(event_ids)), key=lambda e: e["start"])
        if len({e["equipment_id"] for e in events}) > 1:
            raise InvalidInput("events to merge must belong to one line or work cell", field="event_ids")
        for event in events:
            _closed(conn, event)
        correction = _correction(conn, "merge", by, why)
        template = dict(events[0], kind="stop" if any(e["kind"] == "stop" for e in events) else "no_data")
        new_id = _new_event(conn, template, events[0]["start"], max(e["end"] for e in events), "merge", correction)
        conn.execute(
            "UPDATE downtime_events SET superseded_by = %s WHERE id = ANY(%s)", (correction, [e["id"] for e in events])
        )
        reason = reason_code or next((e["reason_code"] for e in events if e["reason_code"]), None)
        _carry_reason(conn, new_id, events[0]["line_id"], reason, by,
                      f"merged from events {', '.join(str(e['id']) for e in events)}")
    if reason_code is not None:
        get_event(conn, new_id)
    return get_event(conn, new_id)


def _correction(conn: psycopg.Connection, kind: str, by: str, why: str) -> int:
    if not why.strip():
        raise InvalidInput(f"say why the events are {'split' if kind == 'split' else 'merged'}", field="why")
    row = conn.execute(
        "INSERT INTO downtime_corrections (kind, by_user, why) VALUES (%s, %s, %s) RETURNING id", (kind, by, why)
    ).fetchone()
    assert row is not None  # one row: an aggregate or RETURNING
    return int(row[0])
