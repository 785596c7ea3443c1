"""``linebrain demo``: LineBrain on the embedded default, nothing to configure."""

from __future__ import annotations

import typer

from mes.cli.common import DataDir, console


def demo(data_dir: DataDir = None) -> None:
    """Start the embedded database, apply the schema and report what is running.

    Example: linebrain demo
    """
    from mes.cli.common import migrated_database_url

    url = migrated_database_url(None, data_dir)
    console.print(f"database ready at {url}")
    console.print("no line is connected yet: the simulator and collectors come next")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
