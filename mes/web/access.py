"""Who is looking at a page and what they may do.

The rules are not here: users, roles, sessions and the one permission table live in
:mod:`mes.auth` (the API and the CLI consult the same table). This module adapts them to
templates: :func:`viewer` is the signed-in user (or None on a wall screen open to anonymous
reads) and :func:`may` decides whether a button is shown. The routes refuse the same actions
on the server with ``mes.auth.deps.audited(action)``, so a hidden button is also a 403.
"""

from __future__ import annotations

from fastapi import Request

from mes.auth.deps import current_session, optional_user
from mes.auth.models import User
from mes.auth.permissions import allowed
from mes.auth.tokens import token_may


def viewer(request: Request) -> User | None:
    return optional_user(request)


def may(user: User | None, action: str) -> bool:
    return user is not None and allowed(user.role, action) and token_may(user, action)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, put into every form of the page."""
    browser = current_session(request)
    return browser.csrf_token if browser else ""
