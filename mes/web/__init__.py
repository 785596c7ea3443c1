"""LineBrain's own pages: server-rendered (FastAPI + Jinja2 templates in ``templates/``), Chinese
and English (Babel), live by Server-Sent Events, behind mes.auth's sign-in. See docs/pages.md.

``mount_pages(app)`` adds the pages to the application; ``app.state.clock`` (optional) gives the
pages' "now" (the demo and the tests use the simulator's clock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

STATIC = Path(__file__).parent / "static"
API_PREFIXES = ("/api", "/docs", "/openapi", "/redoc", "/healthz", "/readyz", "/static")


def mount_pages(app: FastAPI, clock: Callable[[], datetime] | None = None) -> None:
    """Add the page routes, their static files and, for page requests, an HTML error page (a
    visitor who is not signed in is sent to the sign-in form)."""
    from mes.web import admin_pages, alarm_pages, manager_pages, quality_pages, report_pages, routes, routing_pages

    app.include_router(routes.router)
    app.include_router(admin_pages.router)
    app.include_router(manager_pages.router)
    app.include_router(quality_pages.router)
    app.include_router(routing_pages.router)
    app.include_router(routing_pages.shared)
    app.include_router(report_pages.router)
    app.include_router(alarm_pages.router)
    _include_recipe_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if clock is not None:
        app.state.clock = clock

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(API_PREFIXES) or "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        from mes.web.render import render

        return render(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                      status_code=exc.status_code)

    app.add_exception_handler(StarletteHTTPException, page_error)


__all__ = ["mount_pages"]


def _include_recipe_pages(app: FastAPI) -> None:
    """The recipe download page of an order (mes.recipes)."""
    from mes.web import recipe_pages

    app.include_router(recipe_pages.router)
