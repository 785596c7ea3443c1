"""Checks every generated dashboard before it is written: the JSON schema, then layout rules."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema_rs

from mes.grafana.model import GRID_COLUMNS


class DashboardInvalid(ValueError):
    """A generated dashboard does not match Grafana's dashboard model."""


@lru_cache(maxsize=1)
def _validator() -> Any:
    text = resources.files("mes.grafana").joinpath("schema/dashboard.schema.json").read_text()
    return jsonschema_rs.validator_for(json.loads(text))


def validate_dashboard(dashboard: dict[str, Any]) -> None:
    """Raise :class:`DashboardInvalid` naming every problem of ``dashboard``."""
    problems = [f"{'/'.join(map(str, error.instance_path))}: {error.message}"
                for error in _validator().iter_errors(dashboard)]  # fmt: skip
    ids = [panel.get("id") for panel in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("panels: ids are not unique")
    cells: set[tuple[int, int]] = set()
    for panel in dashboard.get("panels", []):
        pos = panel.get("gridPos", {})
        if pos.get("x", 0) + pos.get("w", 0) > GRID_COLUMNS:
            problems.append(f"panel {panel.get('title')!r} sticks out of the {GRID_COLUMNS}-column grid")
        for x in range(pos.get("x", 0), pos.get("x", 0) + pos.get("w", 0)):
            for y in range(pos.get("y", 0), pos.get("y", 0) + pos.get("h", 0)):
                if (x, y) in cells:
                    problems.append(f"panel {panel.get('title')!r} overlaps another panel")
                    break
                cells.add((x, y))
            else:
                continue
            break
    names = [variable["name"] for variable in dashboard.get("templating", {}).get("list", [])]
    if len(names) != len(set(names)):
        problems.append("templating: variable names are not unique")
    if problems:
        raise DashboardInvalid(f"dashboard {dashboard.get('uid')}: " + "; ".join(problems))
