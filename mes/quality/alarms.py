"""Quality's alarms: a process-limit excursion and an SPC rule violation raise an alarm in ``mes/alarms``.

Both are rules built in code, recorded through :func:`mes.alarms.store.record_signal`, so they go
through the ISA-18.2 states (acknowledge, shelve, escalate...) like any configured rule:

* ``process_excursion`` on the spec's tag, priority high: raised when the excursion is first recorded
  (its start time), cleared when it ends. The excursion row says whether it is new, so repeated job
  passes and restarts raise it once.
* ``spc_violation`` on the chart's tag (``spc_chart_<id>`` for a chart of inspections), priority medium:
  a violation is a moment, not a state, so it is raised and returns to normal at the point's time and
  stays listed until acknowledged (ISA-18.2 "returned unacknowledged"). Raised only when the violation
  row is new.

Area and line are the spec's line (none for a spec of every line); the supervisor answers both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from collectors.config.alarms import AlarmRule
from mes.alarms import store

EXCURSION_RULE = "process_excursion"
SPC_RULE = "spc_violation"
EXCURSION_PRIORITY = "high"
SPC_PRIORITY = "medium"
ROLE = "supervisor"


def _rule(name: str, tag: str, priority: str, line: str | None, message: str) -> AlarmRule:
    return AlarmRule(name=name, tag=tag, kind="digital", state=True, priority=priority, area=line,  # type: ignore[arg-type]
                     line=line, suppress_in=[], role=ROLE, message=message)  # fmt: skip


def excursion_alarm(conn: psycopg.Connection, excursion: dict[str, Any], spec: dict[str, Any], *,
                    new: bool, was_open: bool) -> None:
    """Raise the excursion's alarm when the excursion is ``new``; clear it when it ended now (``was_open``)."""
    unit = f" {spec['unit']}" if spec.get("unit") else ""
    rule = _rule(EXCURSION_RULE, excursion["tag"], EXCURSION_PRIORITY, excursion["line_id"],
                 f"{spec['characteristic']} {excursion['direction']} outside process limit "
                 f"{excursion['limit_value']:g}{unit}")  # fmt: skip
    if new:
        store.record_signal(conn, rule, "raised", excursion["start_time"], excursion["worst_value"])
    if was_open and excursion["end_time"] is not None:
        store.record_signal(conn, rule, "cleared", excursion["end_time"], excursion["worst_value"])


def spc_alarm(conn: psycopg.Connection, chart: dict[str, Any], when: datetime, value: float, description: str) -> None:
    """Raise (and at once return to normal) the chart's alarm for one new rule violation."""
    found = conn.execute("SELECT line_id FROM quality_specs WHERE id = %s", (chart["spec_id"],)).fetchone()
    line = found[0] if found else None
    rule = _rule(SPC_RULE, chart["tag"] or f"spc_chart_{chart['id']}", SPC_PRIORITY, line,
                 f"SPC {chart['name']}: {description}")
    store.record_signal(conn, rule, "raised", when, value)
    store.record_signal(conn, rule, "cleared", when, value)
