"""FastAPI dependencies for every route, API and pages alike (the contract of mes/auth).

- :func:`current_user` → :class:`~mes.auth.models.User` (401 when nobody is signed in).
- :func:`optional_user` → the user or None (pages that greet anonymous visitors).
- :func:`require` ``(action)`` → the user, 401 when nobody is signed in, 403 when the role (or
  the API token's scopes) may not do ``action`` (:mod:`mes.auth.permissions`).
- :func:`audited` ``(action)`` → an :class:`AuditedWrite`: like ``require``, plus ``write(...)``
  that runs the domain function and records its one audit row in the same transaction.
- :func:`csrf_token` ``(request)`` → the token a page puts into its forms (field ``csrf_token``).
- :func:`csrf_protect` → for HTML form routes: 403 unless the form's ``csrf_token`` (or an
  ``X-CSRF-Token`` header) matches the session's (before sign-in: the login cookie's).
- :func:`read_access` → the app puts it on every router: reads need a signed-in user unless
  ``web.anonymous_read`` opens GETs to the network.

Who is asking is decided once per request: ``Authorization: Bearer <token>`` (a wrong, revoked
or expired token is a 401, never anonymous), else the session cookie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, HTTPException, Request

from mes.auth import audit
from mes.auth.models import User
from mes.auth.permissions import allowed
from mes.auth.sessions import Session, same_token, session
from mes.auth.tokens import token_may, token_user

SESSION_COOKIE = "linebrain_session"
LOGIN_CSRF_COOKIE = "linebrain_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


@dataclass(frozen=True)
class AuthSettings:
    """What the app's ``web:`` config says about signing in (``app.state.auth``)."""

    anonymous_read: bool = False
    session_lifetime: timedelta = timedelta(hours=12)
    secure_cookies: bool = False  # served over HTTPS (directly or behind a TLS proxy)


def auth_settings(request: Request) -> AuthSettings:
    return getattr(request.app.state, "auth", None) or AuthSettings()


@dataclass
class _Caller:
    user: User | None
    session: Session | None


@contextmanager
def auth_connection(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled autocommit connection of the app (503 when it has no database)."""
    pool = getattr(request.app.state, "pool", None)
    if pool is None:
        raise HTTPException(503, "the server has no database configured")
    with pool.connection() as conn:
        yield conn


def _caller(request: Request) -> _Caller:
    """Who sent the request (looked up once and kept on ``request.state``)."""
    known = getattr(request.state, "linebrain_caller", None)
    if known is not None:
        return known
    header = request.headers.get("authorization")
    caller = _Caller(None, None)
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise HTTPException(401, "use Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"})
        with auth_connection(request) as conn:
            caller.user = token_user(conn, secret.strip())
        if caller.user is None:
            raise HTTPException(401, "token unknown, revoked or expired", {"WWW-Authenticate": "Bearer"})
    elif cookie := request.cookies.get(SESSION_COOKIE):
        with auth_connection(request) as conn:
            caller.session = session(conn, cookie)
        caller.user = caller.session.user if caller.session else None
    request.state.linebrain_caller = caller
    return caller


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None."""
    return _caller(request).user


def current_session(request: Request) -> Session | None:
    """The browser session (with its CSRF token), or None (no cookie, or an API token)."""
    return _caller(request).session


def csrf_token(request: Request) -> str | None:
    """The token a page puts into its forms (``<input type="hidden" name="csrf_token" ...>``);
    None when the visitor has no browser session."""
    browser = current_session(request)
    return browser.csrf_token if browser else None


def current_user(request: Request) -> User:
    """The signed-in user; 401 when there is none."""
    user = optional_user(request)
    if user is None:
        raise HTTPException(401, "sign in first", {"WWW-Authenticate": "Bearer"})
    return user


def read_access(request: Request) -> User | None:
    """Reads need a signed-in user, unless ``web.anonymous_read`` opens GETs to everyone."""
    user = optional_user(request)
    if user is None and not (auth_settings(request).anonymous_read and request.method in SAFE_METHODS):
        raise HTTPException(401, "sign in first", {"WWW-Authenticate": "Bearer"})
    if user is not None and request.method not in SAFE_METHODS and user.scopes == frozenset({"read"}):
        raise HTTPException(403, "this token may only read")
    return user


def require(action: str) -> Callable[..., User]:
    """A dependency: the signed-in user if the role (and token scopes) allow ``action``."""
    allowed("admin", action)  # an unknown action fails at import time, not on the first request

    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not allowed(user.role, action):
            raise HTTPException(403, f"the role {user.role!r} may not {action}")
        if not token_may(user, action):
            raise HTTPException(403, f"this token's scopes do not cover {action}")
        return user

    dependency.__name__ = f"require_{action.replace('.', '_')}"
    return dependency


def client_address(request: Request) -> str | None:
    """The client's address (uvicorn puts the real one here behind a trusted proxy)."""
    return request.client.host if request.client else None


@dataclass(frozen=True)
class AuditedWrite:
    """A permitted write about to happen: who, which action, from where, through which route."""

    user: User
    action: str
    address: str | None
    route: str

    def write(self, conn: psycopg.Connection, object: str | Callable[[Any], str], fn: Callable[..., T], *args: Any,
              before: Callable[[], Any] | None = None, after: Callable[[T], Any] | None = None,
              **kwargs: Any) -> T:  # fmt: skip
        """Run ``fn(conn, *args, **kwargs)`` and record exactly one audit row in the same
        transaction. ``object`` names what changed (or maps the result to it); ``before()`` reads
        the prior value; ``after(result)`` shapes the recorded value (default: the result)."""
        with conn.transaction():
            prior = before() if before is not None else None
            result = fn(conn, *args, **kwargs)
            name = object(result) if callable(object) else object
            audit.record(conn, self.user.name, self.action, name, prior,
                         after(result) if after is not None else result, self.address, self.route)  # fmt: skip
        return result


def audited(action: str) -> Callable[..., AuditedWrite]:
    """A dependency like :func:`require` that hands the route an :class:`AuditedWrite`."""
    check = require(action)

    # A default, not Annotated: ``check`` is local, and annotations are strings here.
    def dependency(request: Request, user: User = Depends(check)) -> AuditedWrite:
        return AuditedWrite(user, action, client_address(request), f"{request.method} {request.url.path}")

    dependency.__name__ = f"audited_{action.replace('.', '_')}"
    return dependency


async def csrf_protect(request: Request) -> None:
    """For HTML form routes: the form's ``csrf_token`` must match the session's token (or, before
    sign-in, the login cookie's); 403 otherwise."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
    browser = current_session(request)
    expected = browser.csrf_token if browser else request.cookies.get(LOGIN_CSRF_COOKIE)
    if not same_token(given if isinstance(given, str) else None, expected):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page and try again")


CurrentUser = Annotated[User, Depends(current_user)]
