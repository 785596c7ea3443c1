"""Users, API tokens and the audit log for admins, and ``/api/me`` for everyone signed in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from mes.api.deps import Conn, call
from mes.auth import audit, tokens, users
from mes.auth.deps import CurrentUser, client_address, require
from mes.auth.models import User
from mes.auth.permissions import ACTIONS, PERMISSIONS, Role, allowed

router = APIRouter(prefix="/api", tags=["users"])
Admin = Annotated[User, Depends(require("users.manage"))]
Auditor = Annotated[User, Depends(require("audit.read"))]
UserName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")]
Locale = Literal["en", "zh-CN"]


@router.get("/me")
def me(user: CurrentUser) -> dict:
    """Who is signed in, with the actions the role (and token) allows."""
    may = sorted(PERMISSIONS.get(user.role, frozenset()))  # type: ignore[call-overload]
    if user.scopes is not None and "write" not in user.scopes:
        may = [action for action in may if action in user.scopes]
    return {"id": user.id, "name": user.name, "role": user.role, "locale": user.locale,
            "display_name": user.display_name, "actions": may,
            "scopes": sorted(user.scopes) if user.scopes is not None else None}  # fmt: skip


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
    role: Role
    password: str = Field(min_length=users.MIN_PASSWORD_LENGTH, max_length=users.MAX_PASSWORD_LENGTH)
    display_name: str = Field(default="", max_length=200)
    locale: Locale = "en"


class UserChange(BaseModel):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=users.MIN_PASSWORD_LENGTH,
                                 max_length=users.MAX_PASSWORD_LENGTH)  # fmt: skip
    display_name: str | None = Field(default=None, max_length=200)
    locale: Locale | None = None
    disabled: bool | None = None


@router.get("/users")
def user_list(conn: Conn, admin: Admin) -> list:
    """Every user (never a password hash)."""
    return users.list_users(conn)


@router.post("/users", status_code=201)
def add_user(body: UserIn, conn: Conn, admin: Admin, request: Request) -> dict:
    """Add a user (audited)."""
    return call(users.add_user, conn, body.name, body.role, body.password, actor=admin.name,
                display_name=body.display_name, locale=body.locale, address=client_address(request))  # fmt: skip


@router.patch("/users/{name}")
def change_user(name: UserName, body: UserChange, conn: Conn, admin: Admin, request: Request) -> dict:
    """Change role, password, locale or name shown; disable or enable (audited). A new password
    or disabling ends the user's sessions."""
    return call(users.change_user, conn, name, actor=admin.name, address=client_address(request),
                **body.model_dump(exclude_none=True))  # fmt: skip


class TokenIn(BaseModel):
    user: str | None = Field(default=None, max_length=100, description="whose token (admins only; default: yours)")
    scopes: list[str] = Field(default=["read"], min_length=1, max_length=len(ACTIONS) + 2,
                              description="read, write, or action names")  # fmt: skip
    expires_at: AwareDatetime | None = None
    name: str = Field(default="", max_length=200)


@router.get("/tokens")
def token_list(conn: Conn, user: CurrentUser, all_users: bool = False) -> list:
    """Your tokens; every user's with ``all_users=true`` (admins). Secrets are never shown again."""
    if all_users:
        _admin_only(user)
    return tokens.list_tokens(conn, None if all_users else user.name)


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, conn: Conn, user: CurrentUser, request: Request) -> dict:
    """A new API token, its secret in ``token`` — shown only in this answer."""
    owner = body.user or user.name
    if owner != user.name:
        _admin_only(user)
    if user.scopes is not None:
        raise HTTPException(403, "sign in with a password to create tokens")
    secret, record = call(tokens.create_token, conn, owner, body.scopes, actor=user.name, expires_at=body.expires_at,
                          name=body.name, address=client_address(request))  # fmt: skip
    return {**record, "token": secret}


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**63 - 1)], conn: Conn, user: CurrentUser,
                 request: Request) -> dict:  # fmt: skip
    """Revoke a token at once (your own, or anyone's for admins)."""
    record = call(tokens.get_token, conn, token_id)
    if record["user_name"] != user.name:
        _admin_only(user)
    return call(tokens.revoke_token, conn, token_id, actor=user.name, address=client_address(request))


@router.get("/audit")
def audit_log(conn: Conn, auditor: Auditor, user: Annotated[str | None, Query(max_length=100)] = None,
              since: AwareDatetime | None = None, object: Annotated[str | None, Query(max_length=300)] = None,
              limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list:  # fmt: skip
    """The audit log, newest first; ``object`` ending in ``:`` or ``/`` matches as a prefix."""
    return audit.entries(conn, user=user, since=since, object=object, limit=limit)


def _admin_only(user: User) -> None:
    if not (allowed(user.role, "users.manage") and tokens.token_may(user, "users.manage")):
        raise HTTPException(403, f"the role {user.role!r} may not users.manage")
