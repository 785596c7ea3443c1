"""What each page shows, gathered from the domain functions (no SQL here, no HTML).

Each function returns plain dicts for one page; the templates only lay them out.
``now`` is passed in so the demo and the tests can run the pages on the simulator's clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

from mes.alarms import andon
from mes.auth import users
from mes.production import (
    downtime,
    handover,
    kpi,
    master_data,
    orders,
    period_report,
    products,
    root_cause,
    shifts,
    states,
    status,
)
from mes.production.equipment import get_unit, list_equipment
from mes.quality import inspections, specs
from mes.recipes.variance import open_variances
from mes.routing import flow

# ISA-101: grey is normal; each state maps to one colour class, always shown with its text label.
STATE_CLASS = {
    "running": "run", "idle": "stop", "fault": "stop", "changeover": "setup", "starved": "wait",
    "blocked": "wait", "planned_stop": "planned", "unknown": "nodata",
}  # fmt: skip
LOOKBACK = timedelta(hours=8)  # the window of a line without a shift calendar
LOSS_STEPS = ("availability_loss", "performance_loss", "quality_loss")


def state_class(state: str | None) -> str:
    return STATE_CLASS.get(state or "unknown", "nodata")


def line_window(conn: psycopg.Connection, line_id: str, now: datetime) -> tuple[datetime, datetime, dict | None]:
    """The current shift of the line, or the last eight hours when no shift is running."""
    shift = shifts.shift_at(conn, line_id, now)
    if shift is not None and now > shift["start"]:
        return shift["start"], now, shift
    return now - LOOKBACK, now, None


def _open_stop(conn: psycopg.Connection, unit_id: str, state: dict | None, now: datetime) -> dict | None:
    """The stop the unit is in now, with its reason when one is assigned."""
    if state is None or state["state"] == "running":
        return None
    events = downtime.list_events(conn, unit_id, state["since"], now + timedelta(seconds=1))
    return events[-1] if events else None


def andon_tiles(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """One tile per line: state (with its reason or "reason needed"), order progress, shift OEE."""
    tiles = []
    for line in status.all_lines(conn, now):
        state = line["state"]
        stop = _open_stop(conn, line["id"], state, now)
        progress = line["running_order"]["progress"] if line["running_order"] else None
        tiles.append({
            "id": line["id"], "name": line["name"], "state": state["state"] if state else "unknown",
            "class": state_class(state["state"] if state else None), "since": state["since"] if state else None,
            "reason": stop["reason_name"] if stop else None,
            "reason_needed": bool(stop and stop["kind"] == "stop" and not stop["reason_code"]),
            "order": line["running_order"]["number"] if line["running_order"] else None,
            "product": line["running_order"]["product_id"] if line["running_order"] else None,
            "percent": progress["percent_complete"] if progress else None,
            "good": progress["good"] if progress else None,
            "planned": progress["planned_quantity"] if progress else None,
            "oee": line["current_shift"]["oee"] if line["current_shift"] else None,
            "shift": line["current_shift"]["shift"] if line["current_shift"] else None,
            "timezone": get_unit(conn, line["id"])["timezone"],
            "calls": andon.open_calls(conn, line["id"]),
        })  # fmt: skip
    return tiles


def line_now(conn: psycopg.Connection, line_id: str, now: datetime) -> dict[str, Any]:
    """The head of the line page (state, since when, the open stop) and how many stops the shift
    has: what the page's live feed sends."""
    unit = get_unit(conn, line_id)
    state = states.current_state(conn, line_id)
    start, end, shift = line_window(conn, line_id, now)
    return {
        "unit": unit, "state": state, "state_class": state_class(state["state"] if state else None),
        "open_stop": _open_stop(conn, line_id, state, now), "window": {"start": start, "end": end, "shift": shift},
        "stops": len(downtime.list_events(conn, line_id, start, end, kind="stop")),
    }  # fmt: skip


def andon_key(conn: psycopg.Connection) -> list[tuple]:
    """What the tiles' colours hang on — each line's state and since when — read cheaply, so the
    live feed can look often and redraw at once on a change (the rest: every few seconds)."""
    key = []
    for line in list_equipment(conn, "line"):
        state = states.current_state(conn, line["id"])
        key.append((line["id"], state and state["state"], state and state["since"],
                    tuple(call["id"] for call in andon.open_calls(conn, line["id"]))))  # a new call redraws at once
    return key


def biggest_loss(waterfall: list[dict]) -> dict | None:
    """The largest of the three OEE losses (availability, performance, quality), or None when nothing was lost."""
    losses = [step for step in waterfall if step["name"] in LOSS_STEPS and (step["seconds"] or 0) > 0]
    return max(losses, key=lambda step: step["seconds"]) if losses else None


def line_page(conn: psycopg.Connection, line_id: str, now: datetime) -> dict[str, Any]:
    """The supervisor's line page: state, order, counts, shift OEE and losses, timeline, stops, inspections."""
    unit = get_unit(conn, line_id)
    running = orders.running_order(conn, unit["line_id"] or unit["id"])
    if running:
        running = {**running, "progress": orders.order_progress(conn, running["id"], now)}
    # What the page shows of status.line_status, without its shift KPI: the page reads that once, below.
    live = {"state": states.current_state(conn, line_id), "running_order": running}
    start, end, shift = line_window(conn, line_id, now)
    shift_kpi = kpi.period_kpi(conn, line_id, start, end)
    waterfall = kpi.oee_waterfall(conn, line_id, start, end)
    reasons = downtime.reason_tree(conn, line_id)
    return {
        "unit": unit, "live": live, "state_class": state_class(live["state"]["state"] if live["state"] else None),
        "open_stop": _open_stop(conn, line_id, live["state"], now),
        "window": {"start": start, "end": end, "shift": shift},
        "kpi": shift_kpi, "biggest_loss": biggest_loss(waterfall),
        "timeline": states.intervals(conn, line_id, start, end),
        "stops": with_root_causes(conn, line_id, stops_to_work(
            downtime.list_events(conn, line_id, start, end, kind="stop"), live["state"]), reasons),
        "reasons": reasons,
        "due": [{**due, "spec": specs.get_spec(conn, due["spec_id"])} for due in inspections.todo(conn, line_id, now)],
        "specs": specs.specs_for(conn, running["product_id"], line_id) if running else [],
        "handover": handover.handover(conn, line_id, now),
        "orders": orders.list_orders(conn, line_id=line_id, limit=20),
        "setpoint_variances": open_variances(conn, line_id),
    }  # fmt: skip


def stops_to_work(events: list[dict], state: dict | None) -> list[dict]:
    """The shift's stops, those waiting for a reason first, newest first; each says whether it
    has ended (only ended stops can be split) and where its middle is (the one-tap split)."""
    current_since = state["since"] if state and state["state"] != "running" else None
    out = []
    for event in events:
        ended = event["end"] is not None and (current_since is None or event["end"] <= current_since)
        middle = event["start"] + (event["end"] - event["start"]) / 2 if event["end"] else None
        out.append({**event, "ended": ended, "middle": middle})
    out.sort(key=lambda e: e["start"], reverse=True)
    out.sort(key=lambda e: e["reason_code"] is not None)
    return out


def with_root_causes(conn: psycopg.Connection, line_id: str, stops: list[dict], reasons: list[dict]) -> list[dict]:
    """On a line with a constraint, each stop gets ``suggestion``: the machine and fault code it
    is attributed to and the line's reason for that fault (``reason``, None when none fits), so
    the supervisor sees why the line stood and is offered that reason first (None: the stop is
    ongoing or nothing is attributed)."""
    if root_cause.line_flow(conn, line_id) is None:
        return stops
    by_code = {reason["code"]: reason for group in reasons for reason in group["reasons"]}
    out = []
    for stop in stops:
        found = root_cause.suggested_reason(conn, stop["id"])
        suggestion = {**found, "reason": by_code.get(found["reason_code"])} if found else None
        out.append({**stop, "suggestion": suggestion})
    return out


def lines(conn: psycopg.Connection) -> list[dict]:
    return list_equipment(conn, "line")


def order_page(conn: psycopg.Connection, order_id: int, now: datetime) -> dict[str, Any]:
    """An order's lifecycle page; a routed order's progress comes from its operations (it books no
    line counts), with a link to its tracking page."""
    order = orders.get_order(conn, order_id)
    routed = flow.order_progress(conn, order_id, now)
    return {
        "order": order, "progress": routed or orders.order_progress(conn, order_id, now),
        "transitions": orders.transitions(conn, order_id),
        "allowed": sorted(orders.TRANSITIONS[order["status"]]),
    }  # fmt: skip


def orders_page(conn: psycopg.Connection, line_id: str | None, status_filter: str | None) -> dict[str, Any]:
    return {
        "orders": orders.list_orders(conn, line_id=line_id, status=status_filter, limit=200),
        "lines": list_equipment(conn, "line"), "products": products.list_products(conn),
        "statuses": orders.STATUSES,
    }  # fmt: skip


def unit(conn: psycopg.Connection, unit_id: str) -> dict:
    return get_unit(conn, unit_id)


def oee_page(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime, by: str) -> dict[str, Any]:
    """The manager's OEE view over a period: every line side by side, then the chosen line's KPIs
    by group, its loss waterfall, its downtime Pareto and its changeovers."""
    changes = orders.changeovers(conn, line_id, start, end)
    delivery = period_report.order_delivery(conn, line_id, start, end)
    by_line = period_report.lines_kpi(conn, start, end)  # the chosen line's row is its total
    return {
        "by_line": by_line,
        "total": next((row for row in by_line if row["group_key"] == line_id), None)
        or period_report.with_yield(kpi.period_kpi(conn, line_id, start, end)),
        "groups": [period_report.with_yield(row) for row in kpi.kpis(conn, line_id, start, end, by)]
        if by != "period" else [],
        "delivery": delivery, "on_time": period_report.on_time_rate(delivery),
        "waterfall": kpi.oee_waterfall(conn, line_id, start, end),
        "pareto": kpi.downtime_pareto(conn, line_id, start, end),
        "changeovers": changes, "changeover_pairs": orders.changeover_by_pair(changes),
        **root_cause_section(conn, line_id, start, end),
    }  # fmt: skip


def pareto_stops_page(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime,
                      code: str) -> dict[str, Any]:
    """The stops behind one bar of the downtime Pareto, with the bar itself (name, total)."""
    bar = next((row for row in kpi.downtime_pareto(conn, line_id, start, end) if row["reason_code"] == code), None)
    return {"bar": bar or {"reason_code": code, "reason_name": None, "seconds": 0.0, "events": 0},
            "stops": period_report.pareto_stops(conn, line_id, start, end, code)}


def root_cause_section(conn: psycopg.Connection, line_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """Which machine stopped the line (by machine and fault) and each machine's KPIs beside the line's;
    empty for a line that names no constraint."""
    if root_cause.line_flow(conn, line_id) is None:
        return {"root_cause": [], "machines": []}
    return {"root_cause": root_cause.pareto(conn, line_id, start, end, by="fault"),
            "machines": root_cause.machine_kpis(conn, line_id, start, end)}  # fmt: skip


ADMIN_DAYS = 7


def admin_page(conn: psycopg.Connection, now: datetime) -> dict[str, Any]:
    """Users and roles, each line's reason tree, and the shift calendar of the coming week."""
    lines = list_equipment(conn, "line")
    return {
        "products": products.list_products(conn), "equipment": list_equipment(conn),
        "time_elements": master_data.TIME_ELEMENTS, "losses": master_data.LOSSES,
        "users": users.list_users(conn),
        "lines": [{**line, "reasons": downtime.reason_tree(conn, line["id"]),
                   "shifts": shifts.list_shifts(conn, line["id"], now, now + timedelta(days=ADMIN_DAYS))}
                  for line in lines],
    }  # fmt: skip
