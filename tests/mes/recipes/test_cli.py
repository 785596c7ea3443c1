"""The recipe and setpoint verbs: a recipe file through create, approve and a dry-run download, refusals
that name the option, and the write log, all as users who sign in with their password."""

from __future__ import annotations

import json

import psycopg
from typer.testing import CliRunner

from collectors.config import load_plant
from mes.cli import app
from mes.production.orders import create_order
from mes.production.sync import sync_plant
from tests.mes.auth.helpers import PASSWORD
from tests.mes.recipes.line import EXAMPLE, people


def test_recipe_file_to_dry_run_download_and_refused_writes(db_url, repo) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        sync_plant(conn, load_plant(EXAMPLE))
    people(db_url, "sam", "otto", "quinn", "max")
    with psycopg.connect(db_url, autocommit=True) as conn:
        create_order(conn, "W-9", "line1", "lager05", 500, "sam")
    runner = CliRunner(env={"COLUMNS": "250"})
    url = ["--database-url", db_url]
    secret = PASSWORD + "\n"

    made = runner.invoke(app, ["recipe", "create", str(repo / "examples/recipes/lager05-line1.yaml"), "--user", "max",
                               "--password-stdin", *url], input=secret)  # fmt: skip
    assert made.exit_code == 0 and "v1" in made.output and "draft" in made.output, made.output
    own = runner.invoke(app, ["recipe", "approve", "1", "--user", "max", "--password-stdin", *url], input=secret)
    assert own.exit_code == 2 and "second person" in own.output
    signed = runner.invoke(app, ["recipe", "approve", "1", "--user", "quinn", "--password-stdin", *url], input=secret)
    assert signed.exit_code == 0 and "approved by quinn" in signed.output
    listed = json.loads(runner.invoke(app, ["recipe", "list", "--json", *url]).output)
    assert [(r["state"], r["approved_by"]) for r in listed] == [("approved", "quinn")]

    dry = runner.invoke(app, ["recipe", "download", "--order", "W-9", "--dry-run", "--json", "--user", "sam",
                              "--password-stdin", *url], input=secret)  # fmt: skip
    report = json.loads(dry.output)
    assert dry.exit_code == 0 and report["result"] == "ready" and report["dry_run"]
    assert [(p["tag"], p["value"]) for p in report["parameters"]] == [
        ("filler_speed_setpoint", 570.0), ("capper_speed_setpoint", 589.0), ("labeller_speed_setpoint", 598.5)]
    by_operator = runner.invoke(app, ["recipe", "download", "--order", "W-9", "--user", "otto", "--password-stdin",
                                      *url], input=secret)  # fmt: skip
    assert by_operator.exit_code == 1 and "forbidden" in by_operator.output

    refused = runner.invoke(app, ["setpoint", "write", "filler_speed_setpoint", "1000", "--user", "sam",
                                  "--password-stdin", *url], input=secret)  # fmt: skip
    assert refused.exit_code == 1 and "refused" in refused.output and "[0, 900]" in refused.output
    unknown = runner.invoke(app, ["setpoint", "write", "filler_state", "1", "--user", "sam", "--password-stdin", *url],
                            input=secret)  # fmt: skip
    assert unknown.exit_code == 2 and "--tag: filler_state is not a writable tag" in unknown.output
    logged = json.loads(runner.invoke(app, ["setpoint", "log", "--json", "--user", "sam", *url]).output)
    assert [(r["tag"], r["result"], r["route"]) for r in logged] == [
        ("filler_state", "refused", "cli: setpoint write"), ("filler_speed_setpoint", "refused", "cli: setpoint write")]
    by_order = json.loads(runner.invoke(app, ["setpoint", "log", "--json", "--order", "W-9", *url]).output)
    assert {(r["actor"], r["result"]) for r in by_order} == {("otto", "forbidden")} and len(by_order) == 3
