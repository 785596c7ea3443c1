"""The application: API routes, sign-in, health and offline docs on one connection pool, behind
the Host check, the JSON-only rule for writes and the security headers."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from collectors.config.models import Web
from mes.api import (
    admin_routes,
    alarm_routes,
    health_routes,
    order_routes,
    production_routes,
    report_routes,
    root_cause_routes,
    routing_routes,
)
from mes.api.deps import connection
from mes.api.docs import add_docs
from mes.api.middleware import security_headers
from mes.auth.deps import AuthSettings, read_access
from mes.web import sign_in


def create_app(database_url: str | None, pool_size: int = 4, web: Web | None = None) -> FastAPI:
    """The server on ``database_url`` (a migrated LineBrain database), configured by the ``web:``
    section. OpenAPI at /openapi.json, Swagger UI at /docs, ReDoc at /redoc."""
    web = web or Web()
    pool = ConnectionPool(database_url, min_size=1, max_size=pool_size, kwargs={"autocommit": True},
                          open=False) if database_url else None  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if pool is not None:
            pool.open()
        try:
            yield
        finally:
            if pool is not None:
                pool.close()

    app = FastAPI(
        title="LineBrain",
        summary="Production facts and ISO 22400-2 KPIs: lines, states, orders, shifts, downtime, counts, quality.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_exception_handler(psycopg.DataError, _unstorable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.pool = pool
    app.state.database_url = database_url
    app.state.web = web
    app.state.auth = AuthSettings(anonymous_read=web.anonymous_read, secure_cookies=web.https,
                                  session_lifetime=timedelta(hours=web.session_hours))  # fmt: skip
    signed_in = [Depends(read_access)]
    app.include_router(production_routes.router, dependencies=signed_in)
    app.include_router(root_cause_routes.router, dependencies=signed_in)
    app.include_router(order_routes.router, dependencies=signed_in)
    app.include_router(admin_routes.router, dependencies=signed_in)
    app.include_router(routing_routes.router, dependencies=signed_in)
    _include_recipes(app, signed_in)
    app.include_router(report_routes.router, dependencies=signed_in)
    app.include_router(alarm_routes.router, dependencies=signed_in)
    _include_quality(app)
    app.include_router(health_routes.router)
    app.include_router(sign_in.router)
    _include_pages(app)
    add_docs(app)
    app.middleware("http")(security_headers(web.https))
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(web))
    return app


def allowed_hosts(web: Web) -> list[str]:
    """Host headers we answer: localhost, the bind address, the public URL's host, and the listed ones."""
    hosts = ["localhost", "127.0.0.1", "::1", "[::1]", *web.allowed_hosts]
    if web.bind not in ("0.0.0.0", "::"):
        hosts.append(web.bind)
    if web.public_url:
        hosts.append(urlsplit(web.public_url).hostname or "")
    return sorted({host for host in hosts if host})


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """Input the database cannot hold (a NUL byte in text, a number out of range) is bad input."""
    return JSONResponse(status_code=422, content={"detail": [{"loc": ["body"], "msg": f"value not storable: {exc}",
                                                               "type": "value_error"}]})


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, but an offending NaN or Infinity (which Python's JSON parser accepts) is echoed as
    text: JSON has no such numbers, and the default handler would fail to write them (a 500)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": _json_safe(jsonable_encoder(exc.errors()))})


def _json_safe(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _include_quality(app: FastAPI) -> None:
    """The quality module's routes, sharing our pool (its connection dependency is overridable)."""
    from mes.api import quality_routes

    app.include_router(quality_routes.router, dependencies=[Depends(read_access)])
    app.dependency_overrides[quality_routes.quality_connection] = connection


def _include_pages(app: FastAPI) -> None:
    """LineBrain's own pages (mes.web) on the same app, pool and sign-in: /andon, /lines/..., /orders, /oee."""
    from mes.web import mount_pages

    mount_pages(app)


def _include_recipes(app: FastAPI, dependencies: list) -> None:
    """Setpoints and recipes (mes.recipes): writes to devices through the audited path."""
    from mes.api import recipe_routes

    app.include_router(recipe_routes.router, dependencies=dependencies)
