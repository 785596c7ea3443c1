"""Jinja2 rendering: one environment per language (the catalog installed once, so rendering
is thread-safe), the plant's formats, and what every page's layout needs."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from mes.web import access
from mes.web.i18n import HTML_LANG, LOCALES, Formats, negotiate, translations

TEMPLATES = Path(__file__).parent / "templates"
LANG_COOKIE = "linebrain_lang"


@functools.cache
def environment(locale: str) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def locale_of(request: Request) -> str:
    """``?lang=`` first, then the language cookie, the user's setting, the browser's Accept-Language."""
    user = access.viewer(request)
    choice = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or (user.locale if user else None)
    return negotiate(choice, request.headers.get("accept-language"))


def plant_timezone(request: Request) -> str:
    return getattr(request.app.state, "plant_timezone", None) or "UTC"


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200,
           timezone: str | None = None) -> HTMLResponse:
    """The page ``template`` in the request's language, times in ``timezone`` (default: the plant's)."""
    locale = locale_of(request)
    user = access.viewer(request)
    fmt = Formats(locale, timezone or plant_timezone(request))
    values = {"request": request, "user": user, "may": lambda action: access.may(user, action), "fmt": fmt,
              "locale": locale, "html_lang": HTML_LANG[locale], "locales": LOCALES,
              "csrf_token": access.csrf_token(request)}  # fmt: skip
    html = environment(locale).get_template(template).render(values | context)
    response = HTMLResponse(html, status_code=status_code)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax", httponly=True)
    return response


def formats(request: Request, timezone: str | None = None) -> Formats:
    return Formats(locale_of(request), timezone or plant_timezone(request))


def fragment(request: Request, template: str, macro: str, **kwargs: Any) -> str:
    """One macro of a template rendered alone (the tiles an SSE message carries)."""
    locale = locale_of(request)
    fmt = formats(request, kwargs.pop("timezone", None))
    module = environment(locale).get_template(template).make_module({"fmt": fmt, "locale": locale})
    return str(getattr(module, macro)(**kwargs))
