"""``linebrain db``: the embedded PostgreSQL and schema migrations."""

from __future__ import annotations

import typer

from mes.cli.common import DatabaseUrl, DataDir, console, err_console

db_app = typer.Typer(
    help="Run the embedded PostgreSQL and apply migrations.\n\n"
    "Examples:\n\n  linebrain db start\n\n  linebrain db url\n\n  linebrain db rotate-passwords\n\n"
    "  linebrain db migrate --database-url postgresql://user@dbhost/linebrain",
    no_args_is_help=True,
)


def _server(data_dir):
    from collectors.database.embedded import EmbeddedPostgres

    return EmbeddedPostgres(data_dir)


@db_app.command("start")
def start(data_dir: DataDir = None) -> None:
    """Start the embedded server (or join the one already running). Example: linebrain db start"""
    status = _server(data_dir).start()
    console.print(f"PostgreSQL running (pid {status.pid}) at {status.url()}  data: {status.data_dir}")


@db_app.command("stop")
def stop(data_dir: DataDir = None) -> None:
    """Stop the embedded server cleanly. Example: linebrain db stop"""
    stopped = _server(data_dir).stop()
    console.print("PostgreSQL stopped" if stopped else "PostgreSQL was not running")


@db_app.command("status")
def status(data_dir: DataDir = None) -> None:
    """Say whether the embedded server runs, where, on which port and as which flavour
    (TimescaleDB or plain PostgreSQL). Example: linebrain db status"""
    state = _server(data_dir).status()
    if state.running:
        console.print(f"running  pid {state.pid}  {state.url()}  data: {state.data_dir}  {_flavour(state.url())}")
    else:
        console.print(f"stopped  data: {state.data_dir}")
        raise typer.Exit(1)


def _flavour(url: str) -> str:
    import psycopg

    from collectors.database.flavour import database_flavour

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            return database_flavour(conn).label
    except psycopg.Error as exc:
        return f"flavour unknown: {exc}".strip()


@db_app.command("url")
def url(data_dir: DataDir = None) -> None:
    """Print the embedded server's connection URL (for psql or Grafana). Example: psql $(linebrain db url)"""
    from collectors.errors import DatabaseError

    try:
        print(_server(data_dir).url())
    except DatabaseError as exc:
        err_console.print(str(exc))
        raise typer.Exit(1) from None


@db_app.command("rotate-passwords")
def rotate_passwords(data_dir: DataDir = None) -> None:
    """New random passwords for the embedded server's superuser and application role.

    The running server keeps its open connections; new ones read the new passwords from
    DATA_DIR/pgpass (0600). Example: linebrain db rotate-passwords
    """
    from collectors.errors import DatabaseError

    server = _server(data_dir)
    try:
        server.rotate_passwords()
    except DatabaseError as exc:
        err_console.print(str(exc))
        raise typer.Exit(1) from None
    console.print(f"passwords of postgres and linebrain rotated; stored in {server.passfile} (never printed)")


@db_app.command("migrate")
def migrate(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Apply pending schema migrations (no-op when up to date). Example: linebrain db migrate"""
    from mes.cli.common import database_url as resolve
    from mes.cli.common import migrate_database

    url = resolve(database_url, data_dir)
    result = migrate_database(url, database_url, data_dir)
    for line in result.applied:
        console.print(f"applied {line}")
    for warning in result.warnings:
        err_console.print(f"warning: {warning}")
    console.print(f"schema up to date, {len(result.applied)} applied: {_flavour(url)}", markup=False)


@db_app.command("convert-to-timescale")
def convert_to_timescale(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Convert a plain PostgreSQL database to TimescaleDB once the server runs it: samples into a
    hypertable (with their data), the rollups into continuous aggregates, compression and refresh
    policies; one transaction, then the rollups are refreshed. Stop collect/run first (their spools
    keep the readings). Example: linebrain db convert-to-timescale"""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from collectors.database.convert import convert_to_timescale as convert
    from collectors.errors import DatabaseError
    from mes.cli.common import database_url as resolve
    from mes.cli.common import migrate_database

    url = resolve(database_url, data_dir)
    migrate_database(url, database_url, data_dir)
    if not yes and not typer.confirm("Convert this database to TimescaleDB? This cannot be undone in place"):
        raise typer.Exit(1)
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err_console) as progress:
            task = progress.add_task("copying samples", total=None)
            done = convert(url, lambda rows, total: progress.update(task, completed=rows, total=total))
    except DatabaseError as exc:
        err_console.print(f"not converted: {exc}", markup=False)
        raise typer.Exit(1) from None
    console.print(f"converted: {done.rows:,} samples in a hypertable; views made again: "
                  f"{', '.join(done.views) or 'none'}; indexes: {', '.join(done.indexes) or 'none'}")  # fmt: skip
    with err_console.status("materialising the rollups (samples_1m, samples_1h)"):
        refreshed = _refresh_after_conversion(url)
    console.print(f"{refreshed}: {_flavour(url)}", markup=False)


def _refresh_after_conversion(url: str, attempts: int = 10) -> str:
    """Materialise the converted rollups. TimescaleDB's refresh policies start at once and a refresh of
    an overlapping window then refuses (LockNotAvailable): wait and try again; the ranges stay
    pending meanwhile, so if it still fails the collector's 30 s refresh finishes them."""
    import time

    import psycopg

    from collectors.store import refresh_rollups

    for attempt in range(1, attempts + 1):
        try:
            spans = refresh_rollups(url)
            return f"rollups refreshed ({spans} span{'s' if spans != 1 else ''})"
        except psycopg.errors.LockNotAvailable as exc:
            if attempt == attempts:
                return f"rollups NOT refreshed yet ({exc}); linebrain collect/run refreshes them within 30 s"
            time.sleep(attempt * 0.5)
    raise AssertionError("unreachable")


@db_app.command("stats")
def stats(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Show how the samples are stored: flavour, chunks (or partitions), compression ratio and bytes
    per sample. Example: linebrain db stats"""
    import psycopg

    from collectors.database.storage_stats import storage_stats
    from collectors.errors import DatabaseError
    from mes.cli.common import database_url as resolve

    with psycopg.connect(resolve(database_url, data_dir)) as conn:
        try:
            figures = storage_stats(conn)
        except DatabaseError as exc:
            err_console.print(str(exc), markup=False)
            raise typer.Exit(1) from None
    console.print(figures.flavour)
    console.print(f"chunks            {figures.chunks} ({figures.compressed_chunks} compressed)")
    console.print(f"samples           ≈ {figures.rows:,}")
    console.print(f"size              {figures.total_bytes / 2**20:,.1f} MiB")
    console.print(f"bytes per sample  {_figure(figures.bytes_per_sample, '.1f')}")
    if figures.compressed_chunks:
        console.print(f"compressed        {figures.compressed_rows:,} samples, "
                      f"{figures.bytes_before_compression / 2**20:,.1f} → "
                      f"{figures.bytes_after_compression / 2**20:,.1f} MiB, "
                      f"ratio {_figure(figures.compression_ratio, '.1f')}, "
                      f"{_figure(figures.compressed_bytes_per_sample, '.2f')} bytes per sample")  # fmt: skip


def _figure(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
