"""Line root cause: which machine, with which fault, cost the line's constraint its time.

A line's machines stand in a row (its ``flow``, upstream to downstream, a buffer
between neighbours) and one of them is the constraint. A machine that is starved
(empty input buffer) or blocked (full output buffer) is not down for its own reason;
the constraint's lost time belongs to the machine whose own stop propagated to it:

* the constraint down for its own reason (fault, idle, changeover, planned stop):
  the constraint (rule ``own``);
* starved: walk upstream over starved machines to the first one down for its own
  reason (``upstream``); blocked: walk downstream over blocked ones (``downstream``);
* the cause's fault code is its first-out code (the fault tag when its stop began);
* when the data cannot tell, the cause is unknown, with a reason code
  (:data:`UNKNOWN_REASONS`). A walk that meets a machine running again keeps the
  stop's earlier cause (the buffer is refilling or draining after it).

Attributions are derived from the machines' state intervals into
``line_root_causes`` and re-derived from the earliest changed interval, like the
downtime events. The Pareto (``mes_root_cause_pareto``) counts their time inside the
line's shifts and outside scheduled planned downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import psycopg

from collectors.config.models import Plant
from mes.db import first, rows, scalar
from mes.errors import InvalidInput
from mes.production.equipment import get_unit, work_cell_id

OWN_STOPS = ("fault", "idle", "changeover", "planned_stop")
PARETO_GROUPINGS = ("machine", "fault")

# Why a cause is unknown, in words ({machine}: where the walk stopped, {constraint}).
UNKNOWN_REASONS = {
    "no_data": "no data from {machine}",
    "upstream_running": "{machine} runs while {constraint} is starved",
    "downstream_running": "{machine} runs while {constraint} is blocked",
    "line_start": "{machine} is starved: nothing comes into the line",
    "line_end": "{machine} is blocked: nothing leaves the line",
    "inconsistent": "{machine} is {state} while {constraint} is {constraint_state}",
}


@dataclass(frozen=True)
class MachineState:
    """One machine's state over a stretch of time (None: no state interval, no data)."""

    state: str | None
    fault_code: int | None


@dataclass(frozen=True)
class Cause:
    """What one stretch of the constraint's not running is attributed to."""

    constraint_state: str
    machine: str | None
    machine_state: str | None
    fault_code: int | None
    rule: str
    unknown_reason: str | None = None


@dataclass
class Attribution:
    start: datetime
    end: datetime
    cause: Cause


# --------------------------------------------------------------------------- the rules


def cause_of(flow: list[str], constraint: int, states: list[MachineState], previous: Cause | None) -> Cause | None:
    """The cause of the constraint's state at one instant (None: it runs). ``states`` are the
    flow's machines' states then; ``previous`` the cause of the stretch just before, when it
    belonged to the same stop (kept while the buffers recover)."""
    own = states[constraint]
    if own.state == "running":
        return None
    here = flow[constraint]
    if own.state is None or own.state == "unknown":
        return Cause("unknown", here, own.state, None, "unknown", "no_data")
    if own.state not in ("starved", "blocked"):
        return Cause(own.state, here, own.state, own.fault_code, "own")
    step, passing, rule = (-1, "starved", "upstream") if own.state == "starved" else (1, "blocked", "downstream")
    index = constraint + step
    while 0 <= index < len(flow):
        machine = states[index]
        if machine.state is None or machine.state == "unknown":
            return Cause(own.state, flow[index], machine.state, None, "unknown", "no_data")
        if machine.state == "running":
            if previous is not None and previous.rule == rule and previous.constraint_state == own.state:
                return previous
            return Cause(own.state, flow[index], "running", None, "unknown", f"{rule}_running")
        if machine.state in OWN_STOPS:
            return Cause(own.state, flow[index], machine.state, machine.fault_code, rule)
        if machine.state != passing:
            return Cause(own.state, flow[index], machine.state, None, "unknown", "inconsistent")
        index += step
    edge = flow[index - step]
    return Cause(own.state, edge, passing, None, "unknown", "line_start" if step < 0 else "line_end")


Interval = tuple[datetime, datetime, str, int | None]  # start, end, state, fault code


def attribute(flow: list[str], constraint: int, intervals: dict[str, list[Interval]], start: datetime,
              end: datetime) -> list[Attribution]:
    """Attribute every stretch of [start, end) in which the constraint does not run. Time is cut
    at every machine's state change; neighbouring stretches with the same cause are one."""
    cuts = {start, end}
    for machine in flow:
        for lo, hi, _state, _fault in intervals.get(machine, []):
            cuts.update(t for t in (lo, hi) if start < t < end)
    times = sorted(cuts)
    cursors = {machine: 0 for machine in flow}
    out: list[Attribution] = []
    for lo, hi in pairwise(times):
        states = [_state_at(intervals.get(machine, []), cursors, machine, lo) for machine in flow]
        previous = out[-1].cause if out and out[-1].end == lo else None
        cause = cause_of(flow, constraint, states, previous)
        if cause is None:
            continue
        if previous == cause:
            out[-1].end = hi
        else:
            out.append(Attribution(lo, hi, cause))
    return out


def _state_at(found: list[Interval], cursors: dict[str, int], machine: str, t: datetime) -> MachineState:
    """The machine's state at ``t``; times are asked in increasing order (a cursor per machine)."""
    i = cursors[machine]
    while i < len(found) and found[i][1] <= t:
        i += 1
    cursors[machine] = i
    if i < len(found) and found[i][0] <= t:
        return MachineState(found[i][2], found[i][3])
    return MachineState(None, None)


# --------------------------------------------------------------------------- config and derivation


def flow_of(line: Any) -> list[str]:
    """The line's machines, upstream first: its ``flow``, else its equipment with a state tag."""
    return list(line.flow) or [eq.id for eq in line.equipment if eq.bindings.state is not None]


def sync_flows(conn: psycopg.Connection, plant: Plant) -> None:
    """Store each line's constraint and its machines' positions in the flow."""
    for line in plant.lines():
        constraint = work_cell_id(line.id, line.constraint) if line.constraint else None
        conn.execute("UPDATE equipment SET constraint_id = %s WHERE id = %s", (constraint, line.id))
        conn.execute("UPDATE equipment SET flow_position = NULL WHERE parent_id = %s", (line.id,))
        for position, machine in enumerate(flow_of(line)):
            conn.execute("UPDATE equipment SET flow_position = %s WHERE id = %s",
                         (position, work_cell_id(line.id, machine)))


def line_flow(conn: psycopg.Connection, line_id: str) -> tuple[list[str], int] | None:
    """(machine ids upstream first, index of the constraint), or None when the line names no
    constraint in its flow."""
    line = first(conn, "SELECT constraint_id FROM equipment WHERE id = %s", (line_id,))
    if line is None or line["constraint_id"] is None:
        return None
    found = rows(conn, "SELECT id FROM equipment WHERE parent_id = %s AND active AND flow_position IS NOT NULL "
                       "ORDER BY flow_position", (line_id,))  # fmt: skip
    flow = [r["id"] for r in found]
    if line["constraint_id"] not in flow:
        return None
    return flow, flow.index(line["constraint_id"])


def derive_line(conn: psycopg.Connection, line_id: str, since: datetime) -> None:
    """Re-derive the line's attributions from ``since`` on out of its machines' state intervals
    (to the end of the constraint's intervals)."""
    found = line_flow(conn, line_id)
    if found is None:
        return
    flow, constraint = found
    # Start at the constraint's stop in force at `since`, so a stop is attributed as a whole.
    stop_start = scalar(conn, "SELECT min(lower(period)) FROM line_root_causes WHERE line_id = %(line)s "
                              "AND upper(period) >= %(since)s", {"line": line_id, "since": since})  # fmt: skip
    start = min(stop_start, since) if stop_start is not None else since
    intervals: dict[str, list[Interval]] = {machine: [] for machine in flow}
    for machine, lo, hi, state, fault in conn.execute(
        "SELECT equipment_id, lower(period), upper(period), state, fault_code FROM state_intervals "
        "WHERE equipment_id = ANY(%s) AND upper(period) > %s ORDER BY equipment_id, lower(period)", (flow, start),
    ):  # fmt: skip
        intervals[machine].append((lo, hi, state, fault))
    ends = intervals[flow[constraint]]
    conn.execute("DELETE FROM line_root_causes WHERE line_id = %s AND upper(period) > %s", (line_id, start))
    if not ends:
        return
    found_rows = attribute(flow, constraint, intervals, max(start, ends[0][0]), ends[-1][1])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO line_root_causes (line_id, period, constraint_state, machine_id, machine_state, fault_code, "
            "rule, unknown_reason) VALUES (%s, tstzrange(%s, %s), %s, %s, %s, %s, %s, %s)",
            [(line_id, a.start, a.end, a.cause.constraint_state, a.cause.machine, a.cause.machine_state,
              a.cause.fault_code, a.cause.rule, a.cause.unknown_reason) for a in found_rows],
        )  # fmt: skip


def line_of(conn: psycopg.Connection, unit_id: str) -> str | None:
    """The line a work unit belongs to when that line attributes root causes."""
    row = first(conn, "SELECT l.id FROM equipment u JOIN equipment l ON l.id = coalesce(u.line_id, u.id) "
                      "WHERE u.id = %s AND l.constraint_id IS NOT NULL", (unit_id,))  # fmt: skip
    return row["id"] if row else None


# --------------------------------------------------------------------------- reading


def _window(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> None:
    get_unit(conn, line_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("times need a time zone (e.g. 2026-03-01T06:00:00+01:00)", field="from")
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")


def pareto(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime,
           by: str = "machine") -> list[dict[str, Any]]:
    """The line's lost time by causing machine (``by='machine'``) or machine and fault code
    (``'fault'``), largest first; ``machine`` None is the unknown share."""
    if by not in PARETO_GROUPINGS:
        raise InvalidInput(f"group by one of {', '.join(PARETO_GROUPINGS)}", field="by")
    _window(conn, line_id, start, end)
    return rows(conn, "SELECT * FROM mes_root_cause_pareto(%s, %s, %s, %s)", (line_id, start, end, by))


def attributions(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The attributed stretches overlapping [start, end), clipped to it, oldest first; an
    unknown one says why in words (``unknown_reason``) and as a code (``unknown_code``)."""
    _window(conn, line_id, start, end)
    found = rows(
        conn,
        "SELECT greatest(lower(rc.period), %(start)s) AS start, least(upper(rc.period), %(end)s) AS end, "
        "rc.constraint_state, substr(rc.machine_id, length(rc.line_id) + 2) AS at_machine, rc.machine_state, "
        "rc.fault_code, rc.rule, rc.unknown_reason AS unknown_code, "
        "substr(l.constraint_id, length(rc.line_id) + 2) AS constraint "
        "FROM line_root_causes rc JOIN equipment l ON l.id = rc.line_id "
        "WHERE rc.line_id = %(line)s AND rc.period && tstzrange(%(start)s, %(end)s) ORDER BY lower(rc.period)",
        {"line": line_id, "start": start, "end": end},
    )
    for row in found:
        row["machine"] = None if row["rule"] == "unknown" else row["at_machine"]
        row["unknown_reason"] = unknown_words(row) if row["unknown_code"] else None
    return found


def unknown_words(row: dict[str, Any]) -> str:
    """An unknown attribution's reason in English words."""
    return UNKNOWN_REASONS.get(row["unknown_code"], row["unknown_code"]).format(
        machine=row["at_machine"], state=row["machine_state"], constraint=row["constraint"],
        constraint_state=row["constraint_state"])  # fmt: skip


def suggested_reason(conn: psycopg.Connection, event_id: int) -> dict[str, Any] | None:
    """The cause that took most of a line stop's time, with the line's reason for its fault code
    (None when nothing is attributed): what the supervisor's reason is pre-filled with."""
    event = first(conn, "SELECT line_id, lower(period) AS start, upper(period) AS end FROM downtime_events "
                        "WHERE id = %s", (event_id,))  # fmt: skip
    if event is None or event["end"] is None:
        return None
    top = first(
        conn,
        "SELECT substr(rc.machine_id, length(rc.line_id) + 2) AS machine, rc.fault_code, "
        "sum(extract(epoch FROM upper(rc.period * w.r) - lower(rc.period * w.r)))::float AS seconds "
        "FROM line_root_causes rc, (SELECT tstzrange(%(start)s, %(end)s) AS r) w "
        "WHERE rc.line_id = %(line_id)s AND rc.rule <> 'unknown' AND rc.period && w.r "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1",
        event,
    )
    if top is None:
        return None
    reason = first(conn, "SELECT code FROM downtime_reasons WHERE line_id = %s AND active AND %s = ANY(fault_codes) "
                         "ORDER BY code LIMIT 1", (event["line_id"], top["fault_code"]))  # fmt: skip
    return {**top, "reason_code": reason["code"] if reason else None}





def machine_kpis(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The line's KPI row, then each machine's of its flow (upstream first), from the same
    ``mes_kpi``: availability, effectiveness, quality, OEE, MTBF and MTTR per machine.
    ``machine`` is None on the line's row; ``is_constraint`` marks the constraint."""
    from mes.production.kpi import period_kpi

    _window(conn, line_id, start, end)
    found = line_flow(conn, line_id)
    flow, constraint = found if found is not None else ([], -1)
    out = [{**period_kpi(conn, line_id, start, end), "unit": line_id, "machine": None, "is_constraint": False}]
    for index, unit in enumerate(flow):
        row = period_kpi(conn, unit, start, end)
        out.append({**row, "unit": unit, "machine": unit[len(line_id) + 1:], "is_constraint": index == constraint})
    return out
