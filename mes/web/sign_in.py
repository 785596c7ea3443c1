"""``GET/POST /login`` and ``POST /logout``: browser sessions.

The sign-in form is protected like every form: a random token in a cookie and in the form
must match (there is no session yet to hold it). A successful sign-in drops any old session
cookie and sets a new one (HttpOnly, SameSite=Lax, Secure over HTTPS, expiring with the
session).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mes.auth import sessions
from mes.auth.deps import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    auth_connection,
    auth_settings,
    client_address,
    csrf_protect,
)
from mes.auth.models import SignInRefused
from mes.web.render import render

router = APIRouter(include_in_schema=False)


def _local(target: str | None) -> str:
    """Only redirect within this site (``next=//evil.example`` would leave it)."""
    return target if target and target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _form(request: Request, status: int = 200, error: str | None = None, name: str = "",
          next_url: str = "/") -> HTMLResponse:  # fmt: skip
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "login.html", {"csrf_field": CSRF_FIELD, "csrf_token": token, "error": error,
                                              "name": name, "next": next_url}, status_code=status)  # fmt: skip
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=auth_settings(request).secure_cookies, path="/login")  # fmt: skip
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _form(request, next_url=_local(next))


@router.post("/login", dependencies=[Depends(csrf_protect)])
def login(request: Request, name: Annotated[str, Form(max_length=100)], password: Annotated[str, Form(max_length=1024)],
          next: Annotated[str, Form(max_length=2000)] = "/") -> Response:  # fmt: skip
    settings = auth_settings(request)
    try:
        with auth_connection(request) as conn:
            session = sessions.sign_in(conn, name, password, settings.session_lifetime, client_address(request),
                                       request.cookies.get(SESSION_COOKIE))  # fmt: skip
    except SignInRefused as exc:
        return _form(request, 401, str(exc), name, _local(next))
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session.token, max_age=int(settings.session_lifetime.total_seconds()),
                        httponly=True, samesite="lax", secure=settings.secure_cookies, path="/")  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with auth_connection(request) as conn:
            sessions.sign_out(conn, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
