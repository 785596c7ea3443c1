"""Chart geometry computed on the server: a shift's state timeline (drawn as SVG), the OEE
loss waterfall and the downtime Pareto (drawn as labelled HTML bars). Functions return shapes
with coordinates; the templates draw them (no chart library, no JavaScript)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mes.web.views import state_class

WIDTH = 1000.0


def timeline(intervals: list[dict], start: datetime, end: datetime, tick_every: timedelta = timedelta(hours=1),
             width: float = WIDTH) -> dict[str, Any]:
    """Bars for each state interval of [start, end) and hour ticks (local times are put on by the caller)."""
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return round(width * (moment - start).total_seconds() / span, 2)

    bars = [
        {"x": x(i["start"]), "w": max(x(i["end"]) - x(i["start"]), 0.5), "state": i["state"],
         "class": state_class(i["state"]), "start": i["start"], "end": i["end"]}
        for i in intervals if i["end"] > i["start"]
    ]  # fmt: skip
    if span > 12 * 3600:
        tick_every = timedelta(hours=4)
    ticks = []
    moment = start.replace(minute=0, second=0, microsecond=0) + tick_every
    while moment < end:
        ticks.append({"x": x(moment), "at": moment})
        moment += tick_every
    return {"bars": bars, "ticks": ticks, "width": width}


def waterfall(steps: list[dict]) -> dict[str, Any]:
    """Bars of the loss waterfall in percent of the tallest: totals stand on zero, each loss
    hangs from the total before it; each bar carries its time and its share of PBT."""
    top = max((s["seconds"] or 0.0 for s in steps), default=0.0) or 1.0
    bars, level = [], 0.0
    pbt = next((s["seconds"] for s in steps if s["name"] == "planned_busy_time"), None) or 0.0
    for step in steps:
        seconds = max(step["seconds"] or 0.0, 0.0)
        if step["kind"] == "total":
            low, high = 0.0, seconds
            level = seconds
        else:
            low, high = level - seconds, level
        bars.append({
            "name": step["name"], "kind": step["kind"], "seconds": seconds, "share": seconds / pbt if pbt else None,
            "y": round(100 * (1 - high / top), 2), "h": round(max(100 * (high - low) / top, 0.4), 2),
        })  # fmt: skip
    return {"bars": bars}


def pareto(rows: list[dict], limit: int = 10) -> list[dict]:
    """The largest reasons with their bar length (percent of the largest) and cumulative share."""
    shown = rows[:limit]
    top = max((r["seconds"] for r in shown), default=0.0) or 1.0
    total, out = 0.0, []
    for row in shown:
        total += row["share"] or 0.0
        out.append({**row, "bar": round(100 * row["seconds"] / top, 1), "cumulative": total})
    return out
