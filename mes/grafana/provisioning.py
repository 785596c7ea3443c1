"""Writes Grafana provisioning files: one datasource and a folder of dashboards.

The layout mirrors Grafana's own provisioning folder, so ``DIR`` can be copied
over ``/etc/grafana/provisioning`` (or pointed at with ``GF_PATHS_PROVISIONING``)::

    DIR/datasources/linebrain.yaml     the PostgreSQL datasource, password from an env var
    DIR/dashboards/linebrain.yaml      the dashboard provider (a folder "LineBrain")
    DIR/dashboards/linebrain/*.json    one file per dashboard
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from mes.grafana.dashboards import all_dashboards
from mes.grafana.model import DATASOURCE_TYPE, DATASOURCE_UID
from mes.grafana.role import DEFAULT_ROLE, PASSWORD_ENV
from mes.grafana.validation import validate_dashboard


@dataclass(frozen=True)
class DatasourceTarget:
    """Where Grafana finds the database, as Grafana (not LineBrain) sees it."""

    host: str
    port: int
    database: str
    user: str = DEFAULT_ROLE
    password_env: str = PASSWORD_ENV
    sslmode: str = "disable"
    timescaledb: bool = False
    postgres_version: int = 1500


def datasource_file(target: DatasourceTarget) -> dict:
    """Grafana datasource provisioning (apiVersion 1); the password is ``${ENV}``, expanded by Grafana."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "LineBrain",
                "type": DATASOURCE_TYPE,
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": f"{target.host}:{target.port}",
                "user": target.user,
                "isDefault": False,
                "editable": False,
                "jsonData": {
                    "database": target.database,
                    "sslmode": target.sslmode,
                    "postgresVersion": target.postgres_version,
                    "timescaledb": target.timescaledb,
                    "timeInterval": "1s",
                    "maxOpenConns": 10,
                    "maxIdleConns": 10,
                    "connMaxLifetime": 14400,
                },
                "secureJsonData": {"password": "${" + target.password_env + "}"},
            }
        ],
    }


def provider_file(dashboards_path: str) -> dict:
    """Grafana dashboard provider: files under ``dashboards_path`` into the folder "LineBrain"."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "LineBrain",
                "orgId": 1,
                "folder": "LineBrain",
                "folderUid": "linebrain",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": dashboards_path, "foldersFromFilesStructure": False},
            }
        ],
    }


def dashboard_documents(timezone: str = "browser") -> dict[str, dict]:
    """Every dashboard's JSON by file name, each checked against the schema."""
    documents = {}
    for dashboard in all_dashboards():
        document = dashboard.to_json(timezone)
        validate_dashboard(document)
        documents[f"{dashboard.uid}.json"] = document
    return documents


def export(directory: Path, target: DatasourceTarget, timezone: str = "browser",
           provisioning_path: str | None = None) -> list[Path]:  # fmt: skip
    """Write the provisioning tree under ``directory``; returns the files written.

    ``provisioning_path`` is where Grafana will see ``directory`` (it differs when
    Grafana runs in a container or on another host); the provider file points there.
    """
    base = Path(provisioning_path) if provisioning_path else directory.resolve()
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    header = "# Written by `linebrain grafana export`; regenerate instead of editing.\n"
    datasource = yaml.safe_dump(datasource_file(target), sort_keys=False)
    write(directory / "datasources" / "linebrain.yaml", header + datasource)
    write(directory / "dashboards" / "linebrain.yaml",
          header + yaml.safe_dump(provider_file(str(base / "dashboards" / "linebrain")), sort_keys=False))  # fmt: skip
    folder = directory / "dashboards" / "linebrain"
    documents = dashboard_documents(timezone)
    if folder.exists():
        for stale in folder.glob("linebrain-*.json"):
            if stale.name not in documents:
                stale.unlink()
    for name, document in documents.items():
        write(folder / name, json.dumps(document, indent=2) + "\n")
    return written
