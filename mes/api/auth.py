"""The authentication seam. Every write records ``current_user().name``.

Until the web UI brings real sign-in, the user is taken from the
``X-LineBrain-User`` header (default ``anonymous``): trusted, for a closed plant
network. Real authentication replaces :func:`current_user` — through
``app.state.authenticate`` (a callable ``Request -> User``) or FastAPI's
``dependency_overrides`` — and no route changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

USER_HEADER = "X-LineBrain-User"


@dataclass(frozen=True)
class User:
    name: str


def current_user(
    request: Request,
    x_linebrain_user: Annotated[str | None, Header(alias=USER_HEADER, max_length=100)] = None,
) -> User:
    authenticate = getattr(request.app.state, "authenticate", None)
    if authenticate is not None:
        user = authenticate(request)
        if user is None:
            raise HTTPException(401, "sign in first")
        return user
    name = (x_linebrain_user or "").strip()
    return User(name or "anonymous")


CurrentUser = Annotated[User, Depends(current_user)]
