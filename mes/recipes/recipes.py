"""Recipes: versioned parameter sets per product and line or unit, draft → approved → obsolete.

A new version is always a new draft (versions are never edited once created, so
what was approved is what is downloaded). Approval re-enters the approver's
password (an electronic signature: the audit row records who signed, when and
its meaning); a recipe marked ``second_approval`` must be approved by someone
other than its author. Approving a version obsoletes the version approved before
it, so one product has at most one approved recipe per line or unit. Every change
records its audit row in its own transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg

from mes.auth import audit
from mes.auth.models import SignInRefused, User
from mes.auth.permissions import allowed
from mes.auth.users import authenticate
from mes.db import first, rows
from mes.errors import Conflict, InvalidInput, MesError, NotFound
from mes.recipes.setpoints import Origin, writable_tag

STATES = ("draft", "approved", "obsolete")


class NotPermitted(MesError):
    """The user's role may not do this (the faces answer 403)."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a recipe: the value for a writable tag, with the recipe's own limits."""

    tag: str
    value: float
    low: float | None = None
    high: float | None = None


def _check_parameters(conn: psycopg.Connection, parameters: list[Parameter]) -> None:
    """Each parameter names a writable tag once, with a finite value inside its own limits and the tag's."""
    if not parameters:
        raise InvalidInput("a recipe needs at least one parameter", "parameters")
    seen: set[str] = set()
    for index, parameter in enumerate(parameters):
        where = f"parameters[{index}]"
        tag = writable_tag(conn, parameter.tag)
        if tag is None:
            raise InvalidInput(f"{parameter.tag} is not a writable tag (writable: true in the plant config)",
                               f"{where}.tag")  # fmt: skip
        if parameter.tag in seen:
            raise InvalidInput(f"{parameter.tag} appears twice", f"{where}.tag")
        seen.add(parameter.tag)
        for name in ("value", "low", "high"):
            number = getattr(parameter, name)
            if number is not None and not math.isfinite(number):
                raise InvalidInput(f"{number!r} is not a finite number", f"{where}.{name}")
        low, high = parameter.low, parameter.high
        if low is not None and high is not None and low > high:
            raise InvalidInput(f"low {low:g} is above high {high:g}", f"{where}.low")
        if (low is not None and parameter.value < low) or (high is not None and parameter.value > high):
            raise InvalidInput(f"{parameter.value:g} is outside the parameter's own limits", f"{where}.value")
        if tag.low is not None and tag.high is not None and not tag.low <= parameter.value <= tag.high:
            raise InvalidInput(f"{parameter.value:g} is outside the write limits [{tag.low:g}, {tag.high:g}] of "
                               f"tag {tag.tag}", f"{where}.value")  # fmt: skip


def create_recipe(conn: psycopg.Connection, name: str, product_id: str, equipment_id: str,
                  parameters: list[Parameter], actor: str, *, second_approval: bool = False, note: str = "",
                  origin: Origin | None = None) -> dict[str, Any]:  # fmt: skip
    """A new draft version of the recipe for ``product_id`` on ``equipment_id`` (a line or a unit)."""
    origin = origin or Origin()
    with conn.transaction():
        if first(conn, "SELECT 1 FROM products WHERE id = %s", (product_id,)) is None:
            raise NotFound(f"no product {product_id!r}", "product_id")
        if first(conn, "SELECT 1 FROM equipment WHERE id = %s AND level IN ('line', 'work_cell')",
                 (equipment_id,)) is None:  # fmt: skip
            raise NotFound(f"no line or unit {equipment_id!r}", "equipment_id")
        _check_parameters(conn, parameters)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"recipe:{product_id}:{equipment_id}",))
        version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM recipes WHERE product_id = %s "
                               "AND equipment_id = %s", (product_id, equipment_id)).fetchone()[0]  # type: ignore[index]
        recipe_id = conn.execute(
            "INSERT INTO recipes (name, product_id, equipment_id, version, second_approval, note, created_by) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (name, product_id, equipment_id, version, second_approval, note, actor),
        ).fetchone()[0]  # type: ignore[index]
        for position, parameter in enumerate(parameters):
            tag = writable_tag(conn, parameter.tag)
            conn.execute("INSERT INTO recipe_parameters (recipe_id, position, tag, value, low, high, unit) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         (recipe_id, position, parameter.tag, parameter.value, parameter.low, parameter.high,
                          tag.unit if tag else ""))  # fmt: skip
        recipe = get_recipe(conn, recipe_id)
        audit.record(conn, actor, "recipes.edit", f"recipe:{recipe_id}", None, recipe, origin.address, origin.route)
    return recipe


def approve_recipe(conn: psycopg.Connection, recipe_id: int, approver: User, password: str,
                   origin: Origin | None = None) -> dict[str, Any]:  # fmt: skip
    """Approve a draft: the approver re-enters their password (a wrong one counts towards the lock-out),
    a second person is required when the recipe says so, and the previously approved version becomes
    obsolete. Raises SignInRefused for a wrong password, Conflict for a state or person that may not."""
    origin = origin or Origin()
    try:
        signer = authenticate(conn, approver.name, password, origin.address)
    except SignInRefused:
        with conn.transaction():
            audit.record(conn, approver.name, "recipes.approve", f"recipe:{recipe_id}", None,
                         {"result": "refused", "reason": "password not confirmed"}, origin.address, origin.route)
        raise
    if not allowed(signer.role, "recipes.approve"):
        raise NotPermitted(f"the role {signer.role!r} may not approve recipes", "approver")
    with conn.transaction():
        recipe = _locked(conn, recipe_id)
        if recipe["state"] != "draft":
            raise Conflict(f"recipe {recipe_id} is {recipe['state']}; only a draft can be approved", "state")
        if recipe["second_approval"] and recipe["created_by"] == signer.name:
            raise Conflict(f"recipe {recipe_id} needs a second person: its author {signer.name} may not approve it",
                           "approver")  # fmt: skip
        replaced = conn.execute(
            "UPDATE recipes SET state = 'obsolete', obsoleted_at = now() WHERE product_id = %s AND "
            "equipment_id = %s AND state = 'approved' RETURNING id",
            (recipe["product_id"], recipe["equipment_id"]),
        ).fetchall()
        conn.execute("UPDATE recipes SET state = 'approved', approved_by = %s, approved_at = now() WHERE id = %s",
                     (signer.name, recipe_id))  # fmt: skip
        approved = get_recipe(conn, recipe_id)
        signature = {"signed_by": signer.name, "at": approved["approved_at"], "meaning": "approved for production",
                     "password_reentered": True, "obsoleted": [row[0] for row in replaced]}  # fmt: skip
        audit.record(conn, signer.name, "recipes.approve", f"recipe:{recipe_id}", {"state": "draft"},
                     {"state": "approved", "signature": signature}, origin.address, origin.route)  # fmt: skip
    return approved


def obsolete_recipe(conn: psycopg.Connection, recipe_id: int, actor: str,
                    origin: Origin | None = None) -> dict[str, Any]:  # fmt: skip
    """Withdraw a draft or an approved version (it is never downloaded again)."""
    origin = origin or Origin()
    with conn.transaction():
        recipe = _locked(conn, recipe_id)
        if recipe["state"] == "obsolete":
            raise Conflict(f"recipe {recipe_id} is already obsolete", "state")
        conn.execute("UPDATE recipes SET state = 'obsolete', obsoleted_at = now() WHERE id = %s", (recipe_id,))
        audit.record(conn, actor, "recipes.edit", f"recipe:{recipe_id}", {"state": recipe["state"]},
                     {"state": "obsolete"}, origin.address, origin.route)  # fmt: skip
        return get_recipe(conn, recipe_id)


def _locked(conn: psycopg.Connection, recipe_id: int) -> dict[str, Any]:
    recipe = first(conn, "SELECT * FROM recipes WHERE id = %s FOR UPDATE", (recipe_id,))
    if recipe is None:
        raise NotFound(f"no recipe {recipe_id}", "recipe_id")
    return recipe


def get_recipe(conn: psycopg.Connection, recipe_id: int) -> dict[str, Any]:
    """A recipe with its parameters in order."""
    recipe = first(conn, "SELECT * FROM recipes WHERE id = %s", (recipe_id,))
    if recipe is None:
        raise NotFound(f"no recipe {recipe_id}", "recipe_id")
    recipe["parameters"] = rows(conn, "SELECT tag, value, low, high, unit FROM recipe_parameters "
                                      "WHERE recipe_id = %s ORDER BY position", (recipe_id,))  # fmt: skip
    return recipe


def list_recipes(conn: psycopg.Connection, product_id: str | None = None, equipment_id: str | None = None,
                 state: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Recipes (without parameters), newest version first per product and equipment."""
    return rows(
        conn,
        "SELECT id, name, product_id, equipment_id, version, state, second_approval, created_by, created_at, "
        "approved_by, approved_at FROM recipes WHERE (%(p)s::text IS NULL OR product_id = %(p)s) "
        "AND (%(e)s::text IS NULL OR equipment_id = %(e)s) AND (%(s)s::text IS NULL OR state = %(s)s) "
        "ORDER BY product_id, equipment_id, version DESC",
        {"p": product_id, "e": equipment_id, "s": state},
    )


def approved_for_order(conn: psycopg.Connection, line_id: str, product_id: str) -> list[dict[str, Any]]:
    """The approved recipes of the product on the line and on each of its units, line first."""
    found = rows(
        conn,
        "SELECT r.id FROM recipes r JOIN equipment e ON e.id = r.equipment_id "
        "WHERE r.state = 'approved' AND r.product_id = %s AND (e.id = %s OR e.line_id = %s) "
        "ORDER BY (e.level = 'line') DESC, e.id",
        (product_id, line_id, line_id),
    )
    return [get_recipe(conn, row["id"]) for row in found]
