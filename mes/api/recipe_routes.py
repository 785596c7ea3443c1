"""Setpoints and recipes under ``/api/setpoints`` and ``/api/recipes``.

Device writes check the role inside the domain (``mes/recipes/setpoints.py``), not
in a dependency, so a refused attempt is audited like a made one; the answer is
200 when the device reads the value back, 403 forbidden, 422 refused (before
sending, or by the collector's own check), 409 when the device took the write
but reads back another value (a conflict with the device's state, not a gateway
failure: the body names the tag, the value written and the read-back), and 502
only when the device or the collector could not be reached (``failed``,
``expired``). The attempt is in the body either way.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from mes.api.deps import Conn, call
from mes.auth.deps import client_address, current_user, require
from mes.auth.models import SignInRefused, User
from mes.bounds import Measurement
from mes.recipes import download as downloads
from mes.recipes import recipes, setpoints
from mes.recipes.setpoints import Origin

router = APIRouter(tags=["setpoints and recipes"])
RecipeId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Signed = Annotated[User, Depends(current_user)]
_STATUS = {"written": 200, "forbidden": 403, "refused": 422, "mismatch": 409, "failed": 502, "expired": 502}


def _origin(request: Request) -> Origin:
    return Origin(client_address(request), f"{request.method} {request.url.path}")


class SetpointIn(BaseModel):
    tag: str = Field(min_length=1, max_length=200)
    value: Measurement | bool


_WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    403: {"description": "forbidden: the role, the tag's write_roles or the token's scopes"},
    409: {"description": "mismatch: the device took the write but reads back another value; detail names "
                         "the tag, the value written and the read-back"},
    422: {"description": "refused: not a finite number or outside the limits; nothing was sent"},
    502: {"description": "failed or expired: the device or the collector could not be reached"},
}


@router.post("/api/setpoints", responses=_WRITE_ANSWERS)
def write_setpoint(body: SetpointIn, request: Request, user: Signed) -> dict[str, Any]:
    """Write one setpoint through the audited path; the body is the attempt (old, read-back, result)."""
    attempt = call(setpoints.write_setpoint, request.app.state.database_url, user, body.tag, body.value,
                   _origin(request), where="body")  # fmt: skip
    status = _STATUS[attempt.result]
    if status != 200:
        raise HTTPException(status, attempt.as_dict())
    return attempt.as_dict()


@router.get("/api/setpoints/log", dependencies=[Depends(require("audit.read"))])
def write_log(conn: Conn, order: str | None = None, tag: str | None = None, user: str | None = None,
              limit: Annotated[int, Query(ge=1, le=10000)] = 200) -> list[dict[str, Any]]:  # fmt: skip
    """Every write attempt from the audit log, newest first, by order number, tag and user."""
    return setpoints.write_log(conn, order=order, tag=tag, user=user, limit=limit)


class ParameterIn(BaseModel):
    tag: str = Field(min_length=1, max_length=200)
    value: Measurement
    low: Measurement | None = None
    high: Measurement | None = None


class RecipeIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    product_id: str = Field(min_length=1, max_length=200)
    equipment_id: str = Field(min_length=1, max_length=200)
    second_approval: bool = False
    note: str = Field(default="", max_length=1000)
    parameters: list[ParameterIn] = Field(min_length=1, max_length=500)


@router.get("/api/recipes")
def list_recipes(conn: Conn, product_id: str | None = None, equipment_id: str | None = None,
                 state: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Recipes, newest version first."""
    return recipes.list_recipes(conn, product_id, equipment_id, state)


@router.get("/api/recipes/{recipe_id}")
def get_recipe(recipe_id: RecipeId, conn: Conn) -> dict[str, Any]:
    """A recipe with its parameters."""
    return call(recipes.get_recipe, conn, recipe_id)


@router.post("/api/recipes", status_code=201)
def create_recipe(body: RecipeIn, request: Request, conn: Conn,
                  user: Annotated[User, Depends(require("recipes.edit"))]) -> dict[str, Any]:  # fmt: skip
    """A new draft version for the product on the line or unit."""
    parameters = [recipes.Parameter(p.tag, p.value, p.low, p.high) for p in body.parameters]
    return call(recipes.create_recipe, conn, body.name, body.product_id, body.equipment_id, parameters, user.name,
                second_approval=body.second_approval, note=body.note, origin=_origin(request))  # fmt: skip


class SignatureIn(BaseModel):
    password: str = Field(min_length=1, max_length=1000, description="the approver's password, entered again")


@router.post("/api/recipes/{recipe_id}/approve")
def approve_recipe(recipe_id: RecipeId, body: SignatureIn, request: Request, conn: Conn,
                   user: Annotated[User, Depends(require("recipes.approve"))]) -> dict[str, Any]:  # fmt: skip
    """Approve a draft; the password is the signature (403 when it is wrong)."""
    return call(_signed_approval, conn, recipe_id, user, body.password, _origin(request))


def _signed_approval(conn: Any, recipe_id: int, user: User, password: str, origin: Origin) -> dict[str, Any]:
    """A wrong password or a role that may not approve is a 403 (not the 422 of other domain errors)."""
    try:
        return recipes.approve_recipe(conn, recipe_id, user, password, origin)
    except (SignInRefused, recipes.NotPermitted) as exc:
        raise HTTPException(403, f"signature refused: {exc}") from exc


@router.post("/api/recipes/{recipe_id}/obsolete")
def obsolete_recipe(recipe_id: RecipeId, request: Request, conn: Conn,
                    user: Annotated[User, Depends(require("recipes.edit"))]) -> dict[str, Any]:  # fmt: skip
    """Withdraw a version: never downloaded again."""
    return call(recipes.obsolete_recipe, conn, recipe_id, user.name, _origin(request))


class DownloadIn(BaseModel):
    order: str = Field(min_length=1, max_length=100)
    dry_run: bool = False


@router.post("/api/recipes/download")
def download(body: DownloadIn, request: Request, user: Signed) -> dict[str, Any]:
    """Check every parameter of the order's recipes, then write them (unless a dry run); the per-parameter
    report either way (``result``: ready, refused, complete, partial, failed)."""
    report = call(downloads.download, request.app.state.database_url, user, body.order, dry_run=body.dry_run,
                  origin=_origin(request))  # fmt: skip
    return report.as_dict()
