"""The provisioning files: Grafana's layout, no secrets, dashboards that match the schema."""

from __future__ import annotations

import copy

import pytest
import yaml

from mes.grafana.provisioning import DatasourceTarget, dashboard_documents, export
from mes.grafana.validation import DashboardInvalid, validate_dashboard


def test_export_writes_grafana_provisioning_layout_with_the_password_as_an_env_reference(tmp_path) -> None:
    target = DatasourceTarget(host="db.plant", port=5433, database="linebrain", password_env="GF_LB_PW")
    export(tmp_path, target, timezone="Europe/Berlin", provisioning_path="/etc/grafana/provisioning")
    datasource = yaml.safe_load((tmp_path / "datasources" / "linebrain.yaml").read_text())["datasources"][0]
    assert datasource["type"] == "grafana-postgresql-datasource"
    assert datasource["url"] == "db.plant:5433"
    assert datasource["user"] == "linebrain_grafana"
    assert datasource["secureJsonData"] == {"password": "${GF_LB_PW}"}
    provider = yaml.safe_load((tmp_path / "dashboards" / "linebrain.yaml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards/linebrain"
    files = sorted(p.name for p in (tmp_path / "dashboards" / "linebrain").iterdir())
    assert files == sorted(dashboard_documents())


def test_every_dashboard_matches_the_schema_and_a_typo_does_not() -> None:
    documents = dashboard_documents("Europe/Berlin")
    for document in documents.values():
        validate_dashboard(document)
    broken = copy.deepcopy(next(iter(documents.values())))
    broken["panels"][0]["targets"][0]["rawSQL"] = broken["panels"][0]["targets"][0].pop("rawSql")
    with pytest.raises(DashboardInvalid, match="rawSql"):
        validate_dashboard(broken)
    overlapping = copy.deepcopy(next(iter(documents.values())))
    overlapping["panels"][1]["gridPos"] = dict(overlapping["panels"][0]["gridPos"])
    with pytest.raises(DashboardInvalid, match="overlaps"):
        validate_dashboard(overlapping)


def test_role_command_refuses_without_the_password_variable(monkeypatch) -> None:
    from typer.testing import CliRunner

    from mes.cli import app

    monkeypatch.delenv("LINEBRAIN_GRAFANA_PASSWORD", raising=False)
    result = CliRunner().invoke(app, ["grafana", "role", "--database-url", "postgresql://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 2
    assert "LINEBRAIN_GRAFANA_PASSWORD" in result.output


def _paths(node: object, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        return {p for key, value in node.items() for p in _paths(value, f"{prefix}/{key}")}
    if isinstance(node, list):
        return {p for value in node for p in _paths(value, f"{prefix}/N")}
    return {prefix}


def test_grafanas_own_dashboard_model_reads_every_field_we_write() -> None:
    """A second opinion from Grafana's generated models (grafana-foundation-sdk): parsing our JSON
    into its Dashboard and writing it back keeps every field, except three it does not model."""
    import json

    import grafana_foundation_sdk.models.dashboard as sdk  # a test extra: always installed
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    # Fields Grafana reads that the generated model leaves out: the repeat's row width, the
    # variable editor's query text, and an unset "All" value.
    unmodelled = {"/panels/N/maxPerRow", "/templating/list/N/definition", "/templating/list/N/allValue"}
    for name, document in dashboard_documents("Europe/Berlin").items():
        back = json.loads(json.dumps(sdk.Dashboard.from_json(document), cls=JSONEncoder))
        assert _paths(document) - _paths(back) <= unmodelled, name
