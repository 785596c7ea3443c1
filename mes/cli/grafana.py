"""``linebrain grafana``: provisioning files for the user's Grafana and its read-only role."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, err_console
from mes.grafana.role import DEFAULT_ROLE, PASSWORD_ENV

grafana_app = typer.Typer(
    help="Grafana provisioning: a PostgreSQL datasource on a read-only role, and LineBrain's dashboards.\n\n"
    "Examples:\n\n  LINEBRAIN_GRAFANA_PASSWORD=... linebrain grafana role\n\n"
    "  linebrain grafana export ./grafana --config plant.yaml",
    no_args_is_help=True,
)

RoleName = Annotated[str, typer.Option("--role", help="Name of Grafana's read-only PostgreSQL role.")]
PasswordEnv = Annotated[
    str, typer.Option("--password-env", help="Environment variable holding the role's password (never printed).")
]


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _password(env: str, required: bool) -> str | None:
    password = os.environ.get(env)
    if not password and required:
        err_console.print(f"set the role's password in ${env} first (read from there, never from the command line)")
        raise typer.Exit(2)
    return password or None


@grafana_app.command("role")
def role(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    role_name: RoleName = DEFAULT_ROLE,
    password_env: PasswordEnv = PASSWORD_ENV,
) -> None:
    """Create Grafana's read-only role (or reset its password) and grant it the grafana schema.

    Example: LINEBRAIN_GRAFANA_PASSWORD=s3cret linebrain grafana role
    """
    from mes.cli.common import migrated_database_url
    from mes.grafana.role import ensure_role

    password = _password(password_env, required=True)
    assert password is not None
    with _connect(migrated_database_url(database_url, data_dir)) as conn:
        created = ensure_role(conn, role_name, password)
    console.print(f"role {role_name} {'created' if created else 'updated'}: read-only on schema grafana")


@grafana_app.command("refresh")
def refresh(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Fill Grafana's hourly KPI cache now (`linebrain run` does it every minute).

    Example: linebrain grafana refresh
    """
    from mes.cli.common import migrated_database_url
    from mes.grafana.cache import refresh_all

    with _connect(migrated_database_url(database_url, data_dir)) as conn:
        hours = refresh_all(conn)
    console.print(f"KPI cache: {hours} line-hours computed")


@grafana_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write (Grafana provisioning layout).")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    config: Annotated[Path | None, typer.Option("--config", help="Plant config: its site time zone "
                                                "becomes the dashboards' time zone.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA time zone; overrides --config.")] = None,
    datasource_host: Annotated[str | None, typer.Option(
        "--datasource-host", help="HOST[:PORT] of PostgreSQL as Grafana reaches it (default: from the URL).")] = None,
    provisioning_path: Annotated[str | None, typer.Option(
        "--provisioning-path", help="Where Grafana sees DIR, if not at the same path (containers).")] = None,
    role_name: RoleName = DEFAULT_ROLE,
    password_env: PasswordEnv = PASSWORD_ENV,
) -> None:
    """Write the datasource and dashboard provisioning files to DIR.

    When $LINEBRAIN_GRAFANA_PASSWORD (see --password-env) is set, the read-only role is
    created or updated too; otherwise an existing role is re-granted the grafana schema.

    Example: linebrain grafana export /etc/grafana/provisioning --config plant.yaml
    """
    from psycopg.conninfo import conninfo_to_dict

    from mes.cli.common import load_config_or_exit, migrated_database_url
    from mes.grafana.provisioning import DatasourceTarget
    from mes.grafana.provisioning import export as write_files
    from mes.grafana.role import ensure_role, grant_read, role_exists

    if timezone is None and config is not None:
        timezone = load_config_or_exit(config).site.timezone
    url = migrated_database_url(database_url, data_dir)
    params = conninfo_to_dict(url)
    host, port = str(params.get("host") or "localhost"), int(params.get("port") or 5432)
    if datasource_host:
        host, _, port_text = datasource_host.partition(":")
        port = int(port_text) if port_text else port
    password = _password(password_env, required=False)
    with _connect(url) as conn:
        from collectors.database.flavour import database_timescale

        timescale = database_timescale(conn)
        # Grafana's editor knows versions up to 15 ("1500"); newer servers speak the same SQL.
        version = min(int(conn.info.server_version) // 10000 * 100, 1500)
        if password:
            ensure_role(conn, role_name, password)
        elif role_exists(conn, role_name):
            grant_read(conn, role_name)
        else:
            err_console.print(f"warning: role {role_name} does not exist yet; create it with "
                              f"`{password_env}=... linebrain grafana role`")  # fmt: skip
    target = DatasourceTarget(host=host, port=port, database=str(params.get("dbname") or "linebrain"),
                              user=role_name, password_env=password_env, timescaledb=timescale,
                              postgres_version=version)  # fmt: skip
    written = write_files(directory, target, timezone or "browser", provisioning_path)
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"Grafana needs ${password_env} set to the role's password (the datasource file refers to it)")


def register(app: typer.Typer) -> None:
    app.add_typer(grafana_app, name="grafana")
