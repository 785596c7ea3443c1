"""Geometry of an SPC chart drawn as SVG on the server: a panel for the plotted statistic (X̄, I,
p, np, c or u) and, for X̄–R, X̄–S and I–MR, a panel for its spread (R, S or MR); centre line and
control limits (per point for variable-size p and u charts), each point placed, and the points
that complete a rule violation marked with the rule's number (shape and text, not colour alone)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mes.quality.charts import Point

WIDTH = 1000.0
PANEL = 220.0
LEFT = 120.0  # room for the limit labels
PAD = 12.0
AXIS = 24.0  # room for the time labels under the plot


def panel(points: Sequence[Point], marks: dict[int, list[str]], times: Sequence[datetime]) -> dict[str, Any] | None:
    """One panel: points (x, y, value, time, rules), limit and centre polylines, y labels."""
    if not points:
        return None
    values = [p.value for p in points] + [p.ucl for p in points] + [p.lcl for p in points]
    low, high = min(values), max(values)
    if high <= low:
        high, low = high + 1.0, low - 1.0
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    step = (WIDTH - LEFT - PAD) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 2)

    def y(value: float) -> float:
        return round(PAD + (PANEL - AXIS - 2 * PAD) * (high - value) / (high - low), 2)

    def line(attr: str) -> str:
        return " ".join(f"{x(i)},{y(getattr(p, attr))}" for i, p in enumerate(points))

    placed = [{"x": x(i), "y": y(p.value), "value": p.value, "time": times[p.index] if p.index < len(times) else None,
               "rules": marks.get(p.index, []), "beyond": p.beyond_limits} for i, p in enumerate(points)]  # fmt: skip
    last = points[-1]
    ends = sorted({0, len(points) // 2, len(points) - 1})
    ticks = [{"x": x(i), "at": placed[i]["time"]} for i in ends if placed[i]["time"] is not None]
    return {
        "points": placed, "path": " ".join(f"{p['x']},{p['y']}" for p in placed),
        "ucl": line("ucl"), "lcl": line("lcl"), "center": line("center"),
        "labels": [{"y": y(last.ucl), "value": last.ucl, "name": "UCL"},
                   {"y": y(last.center), "value": last.center, "name": "CL"},
                   {"y": y(last.lcl), "value": last.lcl, "name": "LCL"}],
        "ticks": ticks, "width": WIDTH, "height": PANEL, "left": LEFT, "plot_height": PANEL - AXIS,
    }  # fmt: skip


def rule_number(code: str) -> str:
    """``nelson5`` → ``5``, ``we2`` → ``2``: what the marker on the point says."""
    return code.lstrip("abcdefghijklmnopqrstuvwxyz_") or code
