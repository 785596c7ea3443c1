"""``/docs`` (Swagger UI) and ``/redoc`` that work without internet: the assets come from the
installed ``fastapi-offline`` package (never copied into this repository), the pages carry no
inline script (our CSP forbids it), and the start-up script is a static file of ours."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
OWN = Path(__file__).parent / "static"

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API</title>
<link rel="icon" href="/docs/assets/favicon.png"><link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script><script src="/docs/static/swagger-init.js"></script>
</body></html>"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} – API reference</title>
<link rel="icon" href="/docs/assets/favicon.png"></head><body>
<redoc spec-url="/openapi.json"></redoc><script src="/docs/assets/redoc.standalone.js"></script>
</body></html>"""


def add_docs(app: FastAPI) -> None:
    """Serve /docs, /redoc and their assets (create the app with ``docs_url=None, redoc_url=None``)."""
    app.mount("/docs/assets", StaticFiles(directory=ASSETS), name="docs-assets")
    app.mount("/docs/static", StaticFiles(directory=OWN), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(_SWAGGER.format(title=app.title))

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return HTMLResponse(_REDOC.format(title=app.title))
