"""The ``linebrain`` command. Each verb lives in its own module with a ``register(app)``."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="linebrain",
    help="LineBrain: factory data collection (OPC UA, Modbus) and MES on PostgreSQL.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

# Modules under mes/cli/ that add verbs; each defines register(app).
COMMAND_MODULES = [
    "config_commands",
    "db_commands",
    "demo",
    "simulate",
    "collect",
    "ingest",
    "grafana",
    "browse",
    "quality",
    "kpi",
    "orders",
    "users",
    "serve",
    "derive",
    "downtime",
    "report",
    "energy",
    "root_cause",
    "recipes",
    "routing",
]

for _module in COMMAND_MODULES:
    importlib.import_module(f"mes.cli.{_module}").register(app)


def main() -> None:
    app()
