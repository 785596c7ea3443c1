"""Alarm system performance (EEMUA 191 / ISA-18.2 figures) per area, over a period.

An *annunciation* is an occurrence shown to operators (``annunciated_at`` in the
period; shelved, suppressed and out-of-service ones never annunciated do not
count). Per area (one operator position):

- ``per_10_min``: annunciations / number of 10-minute windows in the period
  (target about 1, 2 the manageable maximum);
- ``flood_share``: share of the period's 10-minute windows (aligned to its start)
  holding more than ``flood_per_10_min`` annunciations (default 10);
- ``stale``: occurrences active for more than 24 h by the period's end;
- ``chattering``: points annunciated at least ``chatter_count`` times (3) within
  ``chatter_window`` seconds (60), with their names;
- ``top10_share``: share of the annunciations from the ten most frequent points;
- ``priority_mix``: share per priority (target roughly 80% low, 15% medium, 5% high).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import psycopg

from mes.db import rows
from mes.errors import InvalidInput

WINDOW = timedelta(minutes=10)
STALE_AFTER = timedelta(hours=24)
PRIORITIES = ("low", "medium", "high", "urgent")


def alarm_kpis(conn: psycopg.Connection, since: datetime, until: datetime, *, flood_per_10_min: int = 10,
               chatter_count: int = 3, chatter_window_s: float = 60.0) -> list[dict[str, Any]]:  # fmt: skip
    """One row per area (``None``: alarms without an area), plus ``"*"`` for the whole plant."""
    if until <= since:
        raise InvalidInput("the period must end after it starts", field="until")
    shown = rows(conn, "SELECT o.point_id, o.annunciated_at, o.priority, p.area, p.rule, p.tag "
                       "FROM alarm_occurrences o JOIN alarm_points p ON p.id = o.point_id "
                       "WHERE o.annunciated_at >= %s AND o.annunciated_at < %s ORDER BY o.annunciated_at",
                 (since, until))  # fmt: skip
    stale = rows(conn, "SELECT p.area, count(*) AS n FROM alarm_occurrences o JOIN alarm_points p "
                       "ON p.id = o.point_id WHERE o.raised_at <= %(until)s - interval '24 hours' "
                       "AND (o.cleared_at IS NULL OR o.cleared_at > %(until)s) AND o.raised_at < %(until)s "
                       "AND (o.ended_at IS NULL OR o.ended_at > %(until)s) GROUP BY p.area",
                 {"until": until})  # fmt: skip
    stale_by_area = {row["area"]: row["n"] for row in stale}
    by_area: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in shown:
        by_area[row["area"]].append(row)
    windows = math.ceil((until - since) / WINDOW)
    result = []
    for area in sorted(set(by_area) | set(stale_by_area), key=lambda a: (a is None, a or "")):
        result.append(_figures(area, by_area.get(area, []), windows, since, stale_by_area.get(area, 0),
                               flood_per_10_min, chatter_count, chatter_window_s))  # fmt: skip
    result.append(_figures("*", shown, windows, since, sum(stale_by_area.values()), flood_per_10_min,
                           chatter_count, chatter_window_s))  # fmt: skip
    return result


def _figures(area: str | None, shown: list[dict[str, Any]], windows: int, since: datetime, stale: int,
             flood_per_10_min: int, chatter_count: int, chatter_window_s: float) -> dict[str, Any]:  # fmt: skip
    total = len(shown)
    per_window = Counter(int((row["annunciated_at"] - since) / WINDOW) for row in shown)
    flooded = sum(1 for count in per_window.values() if count > flood_per_10_min)
    per_point = Counter(row["point_id"] for row in shown)
    top10 = sum(count for _, count in per_point.most_common(10))
    priorities = Counter(row["priority"] for row in shown)
    return {
        "area": area,
        "annunciations": total,
        "windows": windows,
        "per_10_min": total / windows,
        "flood_windows": flooded,
        "flood_share": flooded / windows,
        "stale": stale,
        "chattering": _chattering(shown, chatter_count, chatter_window_s),
        "top10_share": top10 / total if total else None,
        "priority_mix": {p: priorities.get(p, 0) / total if total else None for p in PRIORITIES},
    }


def _chattering(shown: list[dict[str, Any]], count: int, window_s: float) -> list[str]:
    """``rule:tag`` of every point annunciated ``count`` times within ``window_s`` seconds."""
    times: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for row in shown:
        times[(row["point_id"], f"{row['rule']}:{row['tag']}")].append(row["annunciated_at"])
    span = timedelta(seconds=window_s)
    found = []
    for (_, name), moments in times.items():
        if any(moments[i + count - 1] - moments[i] <= span for i in range(len(moments) - count + 1)):
            found.append(name)
    return sorted(found)
