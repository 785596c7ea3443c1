"""What every response and every write goes through: security headers, and JSON-only writes.

Writes under ``/api`` accept only ``application/json`` (415 otherwise): a page on another site
can post a form or ``text/plain`` across sites, but not JSON without a CORS preflight we never
grant. Writes elsewhere (the HTML forms) may also be form-encoded; those routes check a CSRF token
(:func:`mes.auth.deps.csrf_protect`). Unknown Host headers are refused (400) by Starlette's
``TrustedHostMiddleware``, added in :func:`mes.api.app.create_app`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from mes.auth.deps import SAFE_METHODS

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'{style}; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'")  # fmt: skip
STRICT_CSP = _CSP.format(style="")
# Swagger UI and ReDoc set inline styles (never inline scripts), so only their pages allow them.
DOCS_CSP = _CSP.format(style=" 'unsafe-inline'")
DOCS_PATHS = ("/docs", "/redoc")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length.strip() != "0")


def refused_media_type(request: Request) -> str | None:
    """Why a write's body type is refused, or None when it is fine."""
    if request.method in SAFE_METHODS:
        return None
    media = _media_type(request)
    if not media:
        return "send the body as application/json" if _has_body(request) else None
    if media == "application/json" or media.endswith("+json"):
        return None
    if not request.url.path.startswith("/api") and media in FORM_TYPES:
        return None
    return f"{media} is not accepted here: send application/json"


def security_headers(https: bool) -> Callable[[Request, Callable[[Request], Awaitable[Response]]],
                                              Awaitable[Response]]:  # fmt: skip
    """The middleware: 415 for refused write bodies, and the security headers on every answer."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        problem = refused_media_type(request)
        response: Response
        if problem is not None:
            response = JSONResponse({"detail": problem}, status_code=415)
        else:
            response = await call_next(request)
        docs = request.url.path.startswith(DOCS_PATHS)
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else STRICT_CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if https:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    return middleware
