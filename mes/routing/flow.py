"""Where an order is: per operation the pieces in, good out, scrap, rework and WIP at any moment,
its status and projected finish; the order's progress, bottleneck and late risk.

WIP before an operation = pieces in − good out − scrap. A bundle is *in* an operation once it left
every operation it comes after (with the fewest good pieces any of them passed on), or from its cut
for a first operation, or when it was scanned there out of sequence (with what it brought). Pieces
booked without bundles flow the same way in totals. The order's progress is the good quantity of
its last operation. Everything is computed from the reports up to the moment asked about, so the
figures of any past moment can be read again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from mes.errors import InvalidInput
from mes.routing.operations import bundles, routed_order
from mes.routing.reports import ancestors, reports

RATE_WINDOW = timedelta(hours=1)  # the "recent rate" of an operation: pieces out over the last hour
MIN_RATE_SPAN = timedelta(minutes=5)  # a younger operation's rate is taken over at least this span
AT_RISK_SLACK = 0.1  # projected finish within the last 10% of the time left before the due time


def operation_flow(conn: psycopg.Connection, order_id: int, at: datetime | None = None) -> list[dict]:
    """Per operation (in number order) the quantities at moment ``at`` (default: now), with status:
    ``waiting`` (nothing in yet), ``running``, or ``completed`` (every piece that can still come
    has come and left)."""
    at = at or datetime.now(UTC)
    order = routed_order(conn, order_id)
    operations = order["operations"]
    if not operations:
        raise InvalidInput(f"order {order['number']} has no routing", field="order_id")
    cut = [b for b in bundles(conn, order_id) if b["created_at"] <= at]
    done = reports(conn, order_id, until=at)
    by_bundle: dict[tuple[int, int], dict] = {(r["bundle_id"], r["seq"]): r for r in done if r["bundle_id"]}
    loose = [r for r in done if r["bundle_id"] is None]
    flows: dict[int, dict] = {}
    for op in operations:
        mine = [r for r in done if r["seq"] == op["seq"]]
        entered = sum(_bundle_in(op, b, by_bundle) for b in cut)
        entered += _loose_in(op, loose)
        good, scrap = sum(r["good"] for r in mine), sum(r["scrap"] for r in mine)
        flows[op["seq"]] = {
            "operation_id": op["id"], "seq": op["seq"], "name": op["name"], "work_centre_id": op["work_centre_id"],
            "sam_minutes": op["sam_minutes"], "after_seqs": op["after_seqs"], "quantity_in": entered, "good": good,
            "scrap": scrap, "rework": sum(r["rework"] for r in mine), "wip": entered - good - scrap,
            "bundles_waiting": sum(1 for b in cut if _bundle_in(op, b, by_bundle) and (b["id"], op["seq"])
                                   not in by_bundle),
            "out_of_sequence": sum(1 for r in mine if r["out_of_sequence"]), "reports": len(mine),
            "first_at": mine[0]["at"] if mine else None, "last_at": mine[-1]["at"] if mine else None,
        }  # fmt: skip
    for op in operations:
        flows[op["seq"]]["status"] = _status(flows, op, cut, by_bundle, order["planned_quantity"])
    return [flows[op["seq"]] for op in operations]


def _bundle_in(op: dict, bundle: dict, by_bundle: dict[tuple[int, int], dict]) -> float:
    here = by_bundle.get((bundle["id"], op["seq"]))
    if here is not None:
        return float(here["quantity_in"])
    before = op["after_seqs"]
    if not before:
        return float(bundle["quantity"])
    passed = [by_bundle.get((bundle["id"], step)) for step in before]
    return min(float(p["good"]) for p in passed if p is not None) if all(passed) else 0.0


def _loose_in(op: dict, loose: list[dict]) -> float:
    if not op["after_seqs"]:
        return float(sum(r["quantity_in"] for r in loose if r["seq"] == op["seq"]))
    return float(min(sum(r["good"] for r in loose if r["seq"] == step) for step in op["after_seqs"]))


def _status(flows: dict[int, dict], op: dict, cut: list[dict], by_bundle: dict, planned: float) -> str:
    flow = flows[op["seq"]]
    if flow["reports"] == 0 and flow["quantity_in"] == 0:
        return "waiting"
    if op["after_seqs"]:
        upstream_done = all(flows[step]["status"] == "completed" for step in op["after_seqs"])
    elif cut:
        every_bundle = all((b["id"], op["seq"]) in by_bundle for b in cut)
        upstream_done = every_bundle and sum(b["quantity"] for b in cut) >= planned
    else:
        upstream_done = flow["good"] + flow["scrap"] >= planned
    return "completed" if upstream_done and flow["wip"] <= 0 else "running"


def tracking(conn: psycopg.Connection, order_id: int, now: datetime | None = None) -> dict:
    """The order's tracking: each operation's flow with its recent rate and projected finish, the
    order's progress (its last operation's good pieces), the bottleneck and the late risk."""
    now = now or datetime.now(UTC)
    order = routed_order(conn, order_id)
    flows = operation_flow(conn, order_id, now)
    history = reports(conn, order_id, until=now)
    issued = sum(b["quantity"] for b in bundles(conn, order_id) if b["created_at"] <= now) or order["planned_quantity"]
    by_seq = {f["seq"]: f for f in flows}
    for flow in flows:
        lost_before = sum(by_seq[s]["scrap"] for s in ancestors(order["operations"], flow["seq"]))
        flow["expected"] = max(issued - lost_before, 0.0)
        flow["remaining"] = max(flow["expected"] - flow["good"] - flow["scrap"], 0.0)
        flow["rate_per_hour"] = _recent_rate(history, flow["seq"], now)
        flow["own_finish"] = _own_finish(flow, now)
    for flow in flows:  # an operation cannot finish before the ones it comes after
        before = [by_seq[s]["projected_finish"] for s in flow["after_seqs"]]
        own = flow["own_finish"]
        flow["projected_finish"] = None if own is None or None in before else max([own, *before])
    last = flows[-1]
    bottleneck = _bottleneck(flows)
    return {
        "order": {k: order[k] for k in ("id", "number", "product_id", "line_id", "planned_quantity", "due_at",
                                        "status", "routing_id", "routing_version")},
        "operations": flows, "progress": last["good"], "issued": issued,
        "percent_complete": 100.0 * last["good"] / order["planned_quantity"],
        "projected_finish": last["projected_finish"], "bottleneck": bottleneck,
        "late_risk": _late_risk(last, order["due_at"], now), "now": now,
        "flags": sorted({"more_out_than_in" for f in flows if f["wip"] < 0}
                        | {"out_of_sequence_scans" for f in flows if f["out_of_sequence"]}),
    }  # fmt: skip


def order_progress(conn: psycopg.Connection, order_id: int, now: datetime | None = None) -> dict | None:
    """A routed order's progress in the shape of ``production.orders.order_progress`` (so the order
    page shows it the same way), or None for an order without a routing. A routed order books no
    line counts, so the line-counter progress would read 0: here *good* is what left its last
    operation good, *scrap* the scrap of every operation, the rate the last operation's recent rate."""
    if routed_order(conn, order_id)["routing_id"] is None:
        return None
    t = tracking(conn, order_id, now)
    last, order = t["operations"][-1], t["order"]
    good, scrap = last["good"], sum(f["scrap"] for f in t["operations"])
    return {
        "order_id": order_id, "number": order["number"], "status": order["status"],
        "planned_quantity": order["planned_quantity"], "produced": good + scrap, "good": good, "scrap": scrap,
        "remaining": max(order["planned_quantity"] - good, 0.0), "percent_complete": t["percent_complete"],
        "good_per_hour": last["rate_per_hour"] or 0.0, "projected_finish": t["projected_finish"],
        "due_at": order["due_at"], "late": t["late_risk"] in ("late", "done_late"),
        "plausible": not t["flags"], "implausible_reasons": t["flags"], "routed": True,
    }  # fmt: skip


def _recent_rate(history: list[dict], seq: int, now: datetime) -> float | None:
    """Pieces (good and scrap) per hour that left the operation over the last hour (or since its
    first report, but at least 5 minutes); None before its first report."""
    mine = [r for r in history if r["seq"] == seq]
    if not mine:
        return None
    since = max(now - RATE_WINDOW, min(mine[0]["at"], now - MIN_RATE_SPAN))
    pieces = sum(r["good"] + r["scrap"] for r in mine if r["at"] > since)
    return pieces / ((now - since).total_seconds() / 3600)


def _own_finish(flow: dict, now: datetime) -> datetime | None:
    if flow["remaining"] <= 0:
        return flow["last_at"] or now
    rate = flow["rate_per_hour"]
    return now + timedelta(hours=flow["remaining"] / rate) if rate else None


def _bottleneck(flows: list[dict]) -> dict | None:
    """The unfinished operation that holds the order up most: the latest finish at its own recent
    rate; before any has a rate, the one with the most pieces waiting."""
    open_ops = [f for f in flows if f["status"] != "completed"]
    timed = [f for f in open_ops if f["own_finish"] is not None and f["remaining"] > 0]
    if timed:
        worst = max(timed, key=lambda f: (f["own_finish"], f["wip"]))
        return {"seq": worst["seq"], "name": worst["name"], "reason": "slowest", "wip": worst["wip"]}
    waiting = [f for f in open_ops if f["wip"] > 0]
    if waiting:
        worst = max(waiting, key=lambda f: f["wip"])
        return {"seq": worst["seq"], "name": worst["name"], "reason": "most_wip", "wip": worst["wip"]}
    return None


def _late_risk(last: dict, due: datetime | None, now: datetime) -> str:
    """``done``, ``done_late``, ``no_due_date``, ``unknown`` (no rate yet), ``late``, ``at_risk``, ``on_time``."""
    finish = last["projected_finish"]
    if last["status"] == "completed":
        return "done_late" if due and finish and finish > due else "done"
    if due is None:
        return "no_due_date"
    if finish is None:
        return "late" if now > due else "unknown"
    if finish > due:
        return "late"
    return "at_risk" if (due - finish) < AT_RISK_SLACK * (due - now) else "on_time"
