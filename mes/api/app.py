"""The FastAPI application: production, orders and quality routes on one connection pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool

from mes.api import order_routes, production_routes
from mes.api.deps import connection


def create_app(database_url: str | None, pool_size: int = 4) -> FastAPI:
    """The API on ``database_url`` (a migrated LineBrain database). OpenAPI at /docs."""
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
    )
    app.add_exception_handler(psycopg.DataError, _unstorable)
    app.state.pool = pool
    app.state.database_url = database_url
    app.include_router(production_routes.router)
    app.include_router(order_routes.router)
    _include_quality(app)
    return app


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """Input the database cannot hold (a NUL byte in text, a number out of range) is bad input."""
    return JSONResponse(status_code=422, content={"detail": [{"loc": ["body"], "msg": f"value not storable: {exc}",
                                                               "type": "value_error"}]})


def _include_quality(app: FastAPI) -> None:
    """The quality module's routes, sharing our pool (its connection dependency is overridable)."""
    try:
        from mes.api import quality_routes
    except ImportError:  # pragma: no cover - quality is developed alongside
        return
    app.include_router(quality_routes.router)
    app.dependency_overrides[quality_routes.quality_connection] = connection
