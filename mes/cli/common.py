"""Options and helpers shared by the CLI verbs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="LINEBRAIN_DATABASE_URL",
        help="PostgreSQL/TimescaleDB URL. Without it LineBrain uses its embedded server.",
        show_default=False,
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="LINEBRAIN_DATA_DIR",
        help="Folder of the embedded server's data (default: the user's data dir).",
        show_default=False,
    ),
]
ConfigPath = Annotated[Path, typer.Argument(help="Plant config file (YAML).", show_default=False)]


def cli_user(user: str) -> str:
    """Who a verb records: ``--user`` / ``$LINEBRAIN_USER``, else the login name."""
    return user or os.environ.get("USER", "cli")


def cli_actor(user: str) -> str:
    """Who the audit log names for a command-line write: the recorded user, marked as coming from
    the shell (the API's rows name a signed-in user instead)."""
    return f"cli:{cli_user(user)}"


def database_url(url: str | None, data_dir: Path | None) -> str:
    """The URL to use, starting the embedded server when none is given."""
    from collectors.database.url import resolve_database_url

    return resolve_database_url(url, data_dir)


def migrated_database_url(url: str | None, data_dir: Path | None) -> str:
    """Like :func:`database_url`, with every pending migration applied (and, on the embedded server,
    the audit log handed to its keeper: mes.auth.keeper)."""
    resolved = database_url(url, data_dir)
    migrate_database(resolved, url, data_dir)
    return resolved


def migrate_database(resolved: str, url: str | None, data_dir: Path | None):
    """Apply pending migrations to ``resolved``; on the embedded server (no URL given) its superuser
    then hands the audit log to its keeper. Returns the migrations' result. A database the
    migrations cannot bring up to date (a TimescaleDB database on a server without it, a failing
    migration) ends the command with the reason, exit code 1."""
    from urllib.parse import urlsplit

    from collectors.database.embedded import EmbeddedPostgres
    from collectors.errors import DatabaseError
    from mes.auth.keeper import migrate_and_seal

    embedded = not (url or os.environ.get("LINEBRAIN_DATABASE_URL"))
    admin_url = EmbeddedPostgres(data_dir).admin_url(urlsplit(resolved).path.lstrip("/")) if embedded else None
    try:
        return migrate_and_seal(resolved, admin_url)
    except DatabaseError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(1) from None


def load_config_or_exit(path: Path):
    """Load a plant config; print its problems and exit 2 when it is invalid."""
    from collectors.config import load_plant
    from collectors.errors import ConfigError

    try:
        return load_plant(path)
    except ConfigError as exc:
        for problem in exc.problems:
            err_console.print(problem, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def failed(exc) -> typer.Exit:
    """Print a domain error naming its option (``--reason-code: ...``); the exit to raise (code 2)."""
    err_console.print(f"{'--' + exc.field.replace('_', '-') + ': ' if exc.field else ''}{exc}", markup=False,
                      highlight=False)  # fmt: skip
    return typer.Exit(2)
