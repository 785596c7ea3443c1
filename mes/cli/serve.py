"""``linebrain serve``: the API, sign-in and (when they exist) the pages under uvicorn.

Settings come from the config's ``web:`` section (docs/config.md); ``--host`` and ``--port``
override it. ``linebrain run --serve`` runs the same server next to the collectors and the MES
jobs, as one more job of that process (:func:`serve_job`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, load_config_or_exit

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Plant config; its web: section "
                                                   "configures the server.", show_default=False)]  # fmt: skip
Host = Annotated[str | None, typer.Option("--host", help="Address to listen on (default: web.bind).",
                                          show_default=False)]  # fmt: skip
Port = Annotated[int | None, typer.Option("--port", help="Port (default: web.port, 8080).", show_default=False)]


def web_settings(config: Path | None, host: str | None = None, port: int | None = None) -> Any:
    """The ``web:`` section of ``config`` (defaults without one), with --host/--port applied."""
    from collectors.config.models import Web

    web = load_config_or_exit(config).web if config else Web()
    changes = {k: v for k, v in (("bind", host), ("port", port)) if v is not None}
    return web.model_copy(update=changes) if changes else web


def uvicorn_server(database_url: str, web: Any) -> Any:
    """A uvicorn server for the app on ``database_url``: TLS when configured, and client
    addresses and scheme from X-Forwarded-* only when they come from a trusted proxy."""
    import uvicorn

    from mes.api import create_app

    config = uvicorn.Config(
        create_app(database_url, web=web),
        host=web.bind,
        port=web.port,
        ssl_certfile=web.tls_cert,
        ssl_keyfile=web.tls_key,
        proxy_headers=web.behind_proxy,
        forwarded_allow_ips=",".join(web.trusted_proxies) if web.behind_proxy else "",
        server_header=False,
        lifespan="on",
        log_level="info",
    )
    return uvicorn.Server(config)


def serve(
    config: ConfigOption = None,
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the API (/api, /docs), sign-in (/login) and health (/healthz, /readyz) until SIGTERM.

    Examples: linebrain serve --config plant.yaml — linebrain serve --host 0.0.0.0 --port 8080
    """
    from mes.cli.common import migrated_database_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web = web_settings(config, host, port)
    url = migrated_database_url(database_url, data_dir)
    scheme = "https" if web.tls_cert else "http"
    console.print(f"serving on {scheme}://{web.bind}:{web.port} (sign in at /login, API at /docs)")
    uvicorn_server(url, web).run()


def serve_job(database_url: str, web: Any) -> Any:
    """The server as a background job of ``linebrain run --serve``: stops when the run stops."""

    async def job(stop: asyncio.Event) -> None:
        server = uvicorn_server(database_url, web)
        server.capture_signals = contextlib.nullcontext  # the run owns SIGTERM/SIGINT and sets ``stop``
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task

    return job


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
