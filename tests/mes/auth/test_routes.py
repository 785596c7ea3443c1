"""Every write route of the API names an action of the permission table (so it checks the role
and, through ``audited``, records its audit row); a new route that forgets fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from mes.api import create_app

# Writes whose domain function records the audit row itself (users, tokens; setpoints and recipes,
# whose every attempt — refused, failed or written — is one audit row of mes.recipes), or that
# store nothing.
SELF_AUDITED = {"POST /api/users", "PATCH /api/users/{name}", "POST /api/tokens", "DELETE /api/tokens/{token_id}",
                "POST /api/setpoints", "POST /api/recipes", "POST /api/recipes/{recipe_id}/approve",
                "POST /api/recipes/{recipe_id}/obsolete", "POST /api/recipes/download"}
STORES_NOTHING = {"POST /api/quality/capability"}


def _names(dependant: Dependant) -> set[str]:
    names = {getattr(dependant.call, "__name__", "")}
    for sub in dependant.dependencies:
        names |= _names(sub)
    return names


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as nested objects)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def test_every_api_write_is_audited_under_an_action() -> None:
    unaudited, writes = [], 0
    for route in _api_routes(create_app(None).routes):
        if not route.path.startswith("/api"):
            continue
        for method in route.methods - {"GET", "HEAD"}:
            key = f"{method} {route.path}"
            writes += 1
            names = _names(route.dependant)
            if key in SELF_AUDITED | STORES_NOTHING:
                continue
            if not any(name.startswith("audited_") for name in names):
                unaudited.append(key)
    assert unaudited == [] and writes >= 30
