"""``linebrain recipe`` and ``linebrain setpoint``: recipes and writes to devices, from the shell.

A device write needs a LineBrain user whose role allows it, so these verbs sign
in as ``--user`` with the password (prompted, or ``--password-stdin``) and go
through the same audited path as the API and the pages (route ``cli: ...``).
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, err_console

recipe_app = typer.Typer(
    help="Recipes: versioned parameter sets per product and line or unit (draft → approved → obsolete), "
    "downloaded to the devices with read-back.\n\nExamples:\n\n"
    "  linebrain recipe create lager-line1.yaml --user max\n\n  linebrain recipe approve 3 --user quinn\n\n"
    "  linebrain recipe download --order W-1001 --dry-run --user sam",
    no_args_is_help=True,
)
setpoint_app = typer.Typer(
    help="Single setpoint writes (audited, checked, read back) and their log.\n\nExamples:\n\n"
    "  linebrain setpoint write filler_speed_setpoint 540 --user sam\n\n"
    "  linebrain setpoint log --order W-1001",
    no_args_is_help=True,
)
UserName = Annotated[str, typer.Option("--user", envvar="LINEBRAIN_USER", help="LineBrain user who acts "
                                       "(signs in with their password).", show_default=False)]  # fmt: skip
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _url(database_url: str | None, data_dir: Any) -> str:
    from mes.cli.common import migrated_database_url

    return migrated_database_url(database_url, data_dir)


def _connect(database_url: str | None, data_dir: Any) -> Any:
    import psycopg

    return psycopg.connect(_url(database_url, data_dir), autocommit=True)


def _origin(verb: str) -> Any:
    from mes.recipes.setpoints import Origin

    return Origin(f"cli@{socket.gethostname()}", f"cli: {verb}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True))


def _sign_in(conn: Any, name: str, from_stdin: bool, action: str | None = None) -> Any:
    """The user ``name`` after checking their password and, when given, that their role may do ``action``
    (exit 2 naming --user otherwise)."""
    from mes.auth.models import SignInRefused
    from mes.auth.permissions import allowed
    from mes.auth.users import authenticate

    if not name:
        err_console.print("--user: name the LineBrain user who acts")
        raise typer.Exit(2)
    try:
        user = authenticate(conn, name, _password(from_stdin), "cli")
    except SignInRefused as exc:
        err_console.print(f"--user: {exc}", markup=False)
        raise typer.Exit(2) from None
    if action is not None and not allowed(user.role, action):
        err_console.print(f"--user: the role {user.role!r} may not {action}")
        raise typer.Exit(2)
    return user


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A domain call; its errors become one line on stderr naming the option, exit 2."""
    from mes.auth.models import SignInRefused
    from mes.errors import MesError

    try:
        return fn(*args, **kwargs)
    except (MesError, SignInRefused) as exc:
        field = getattr(exc, "field", None)
        err_console.print(f"{'--' + field.replace('_', '-') + ': ' if field else ''}{exc}", markup=False)
        raise typer.Exit(2) from None


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# ---------------------------------------------------------------------------- recipe


def load_recipe_file(path: Path) -> dict[str, Any]:
    """A recipe file (YAML): name, product, equipment, second_approval, note, parameters."""
    import yaml
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class ParameterFile(BaseModel):
        model_config = ConfigDict(extra="forbid")
        tag: str
        value: float
        low: float | None = None
        high: float | None = None

    class RecipeFile(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str = Field(min_length=1, max_length=200)
        product: str
        equipment: str
        second_approval: bool = False
        note: str = ""
        parameters: list[ParameterFile]

    try:
        return RecipeFile.model_validate(yaml.safe_load(path.read_text())).model_dump()
    except (OSError, yaml.YAMLError) as exc:
        err_console.print(f"{path}: {exc}", markup=False)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            err_console.print(f"{path}: {where}: {error['msg']}", markup=False)
        raise typer.Exit(2) from None


@recipe_app.command("create")
def create(
    file: Annotated[Path, typer.Argument(help="Recipe file (YAML).", show_default=False)],
    user: UserName = "",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create the next version of a recipe as a draft (docs/recipes.md shows the file)."""
    from mes.recipes.recipes import Parameter, create_recipe

    spec = load_recipe_file(file)
    with _connect(database_url, data_dir) as conn:
        actor = _sign_in(conn, user, password_stdin, "recipes.edit")
        parameters = [Parameter(**p) for p in spec["parameters"]]
        recipe = _run(create_recipe, conn, spec["name"], spec["product"], spec["equipment"], parameters, actor.name,
                      second_approval=spec["second_approval"], note=spec["note"], origin=_origin("recipe create"))
    console.print(f"recipe {recipe['id']}: {recipe['name']} v{recipe['version']} for {recipe['product_id']} on "
                  f"{recipe['equipment_id']}, draft ({len(recipe['parameters'])} parameters)", markup=False)


@recipe_app.command("approve")
def approve(
    recipe_id: Annotated[int, typer.Argument(help="Recipe id.", show_default=False)],
    user: UserName = "",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Approve a draft: your password is your signature (asked again even when signed in)."""
    from mes.auth.models import User
    from mes.recipes.recipes import approve_recipe

    if not user:
        err_console.print("--user: name the LineBrain user who approves")
        raise typer.Exit(2)
    with _connect(database_url, data_dir) as conn:
        password = _password(password_stdin)
        recipe = _run(approve_recipe, conn, recipe_id, User(0, user, ""), password, _origin("recipe approve"))
    console.print(f"recipe {recipe['id']} v{recipe['version']} approved by {recipe['approved_by']}", markup=False)


@recipe_app.command("obsolete")
def obsolete(
    recipe_id: Annotated[int, typer.Argument(help="Recipe id.", show_default=False)],
    user: UserName = "",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Withdraw a recipe version: it is never downloaded again."""
    from mes.recipes.recipes import obsolete_recipe

    with _connect(database_url, data_dir) as conn:
        actor = _sign_in(conn, user, password_stdin, "recipes.edit")
        recipe = _run(obsolete_recipe, conn, recipe_id, actor.name, _origin("recipe obsolete"))
    console.print(f"recipe {recipe['id']} v{recipe['version']} is obsolete", markup=False)


@recipe_app.command("list")
def list_(
    product: Annotated[str | None, typer.Option("--product", help="Only this product.")] = None,
    equipment: Annotated[str | None, typer.Option("--equipment", help="Only this line or unit.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="draft, approved or obsolete.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Recipes, newest version first."""
    from mes.recipes.recipes import list_recipes

    with _connect(database_url, data_dir) as conn:
        found = list_recipes(conn, product, equipment, state)
    if as_json:
        _json(found)
        return
    table = Table("id", "name", "product", "equipment", "version", "state", "created by", "approved by")
    for r in found:
        table.add_row(str(r["id"]), r["name"], r["product_id"], r["equipment_id"], str(r["version"]), r["state"],
                      r["created_by"], r["approved_by"] or "")  # fmt: skip
    console.print(table)


@recipe_app.command("download")
def download_(
    order: Annotated[str, typer.Option("--order", help="Order number: its product's approved recipes for its "
                                       "line and units are written.", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every value, write nothing.")] = False,
    user: UserName = "",
    password_stdin: PasswordStdin = False,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Download an order's recipe to the devices: every value checked first, then written and read back.
    Exit 0 when complete (or a dry run that would pass), 1 otherwise."""
    import psycopg

    from mes.recipes.download import download

    url = _url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        actor = _sign_in(conn, user, password_stdin)
    report = _run(download, url, actor, order, dry_run=dry_run, origin=_origin("recipe download"))
    if as_json:
        _json(report.as_dict())
    else:
        table = Table("equipment", "tag", "value", "limits", "old", "read back", "result", "why")
        for p in report.parameters:
            limits = f"[{'' if p.low is None else f'{p.low:g}'}, {'' if p.high is None else f'{p.high:g}'}]"
            table.add_row(p.equipment_id, p.tag, f"{p.value:g} {p.unit}", limits, _shown(p.old), _shown(p.readback),
                          p.result, p.problem or p.message)  # fmt: skip
        console.print(table)
        console.print(f"order {report.order} ({report.product_id} on {report.line_id}): {report.result}"
                      f"{' (dry run: nothing written)' if report.dry_run else ''}", markup=False)
    if report.result not in ("complete", "ready"):
        raise typer.Exit(1)


def _shown(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------- setpoint


@setpoint_app.command("write")
def write(
    tag: Annotated[str, typer.Argument(help="Writable tag name.", show_default=False)],
    value: Annotated[float, typer.Argument(help="Value in the tag's engineering unit.", show_default=False)],
    user: UserName = "",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Write one setpoint: role and limits checked, written by the collector, read back. Exit 0 when the
    device reads back the value, 1 otherwise."""
    import psycopg

    from mes.recipes.setpoints import write_setpoint

    url = _url(database_url, data_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        actor = _sign_in(conn, user, password_stdin)
    attempt = _run(write_setpoint, url, actor, tag, value, _origin("setpoint write"))
    console.print(f"{tag}: {attempt.result} (old {_shown(attempt.old)}, written {value:g}, read back "
                  f"{_shown(attempt.readback)}){' — ' + attempt.message if attempt.message else ''}", markup=False)
    if not attempt.ok:
        raise typer.Exit(1)


@setpoint_app.command("log")
def log(
    order: Annotated[str | None, typer.Option("--order", help="Only writes of this order's downloads.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Only this tag.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 200,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Every write attempt (refused ones too), newest first, from the audit log."""
    from mes.recipes.setpoints import write_log

    with _connect(database_url, data_dir) as conn:
        found = write_log(conn, order=order, tag=tag, user=user, limit=limit)
    if as_json:
        _json(found)
        return
    table = Table("at", "user", "from", "tag", "old", "value", "read back", "result", "order", "message")
    for r in found:
        table.add_row(r["at"].isoformat(timespec="seconds"), r["actor"], r["address"] or "", r["tag"],
                      _shown(r["old"]), _shown(r["value"]), _shown(r["readback"]), r["result"],
                      r["order_number"] or "", r["message"] or "")  # fmt: skip
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(recipe_app, name="recipe")
    app.add_typer(setpoint_app, name="setpoint")
