"""``/healthz`` (the process answers) and ``/readyz`` (database, schema, collectors' last batch)."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from mes import ALL_MIGRATIONS
from mes.health import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The process is up (no database check: that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready: database down, schema behind or data stale"}})
def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: the database answers, every migration is applied, and (when
    ``web.ready_max_batch_age_s`` is set) the collectors' newest batch is recent enough."""
    pool = request.app.state.pool
    limit = request.app.state.web.ready_max_batch_age_s
    try:
        with pool.connection(timeout=5) as conn:
            ready, report = readiness(conn, ALL_MIGRATIONS, limit)
    except (psycopg.Error, OSError) as exc:  # the pool's timeout is a psycopg error too
        return JSONResponse({"status": "unavailable", "database": str(exc).splitlines()[0]}, status_code=503)
    body = {"status": "ready" if ready else "not ready", **report}
    return JSONResponse(jsonable_encoder(body), status_code=200 if ready else 503)
