"""``linebrain users``, ``tokens`` and ``audit``: people, API tokens and the audit log.

These verbs work on the database directly (whoever may run them may read the
database URL anyway); each change is audited with the actor ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from mes.cli.common import DatabaseUrl, DataDir, console, err_console

users_app = typer.Typer(
    help="Users and roles (operator, supervisor, quality, maintenance, manager, admin).\n\n"
    "Examples:\n\n  linebrain users add ann --role supervisor\n\n  linebrain users list\n\n"
    "  linebrain users passwd ann\n\n  linebrain users disable ann",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer ...), shown once, stored hashed.\n\n"
    "Examples:\n\n  linebrain tokens create --user ann --scope write --expires 90d\n\n"
    "  linebrain tokens list\n\n  linebrain tokens revoke 3",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit log: who changed what, when, from where, before and after.\n\n"
    "Examples:\n\n  linebrain audit list --user ann --since -1d\n\n  linebrain audit list --object order:",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _connect(database_url: str | None, data_dir: Any) -> Any:
    import psycopg

    from mes.cli.common import migrated_database_url

    return psycopg.connect(migrated_database_url(database_url, data_dir), autocommit=True)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A domain call; its errors become one line on stderr and exit 2."""
    from mes.errors import MesError

    try:
        return fn(*args, **kwargs)
    except MesError as exc:
        err_console.print(f"{'--' + exc.field.replace('_', '-') + ': ' if exc.field else ''}{exc}", markup=False)
        raise typer.Exit(2) from None


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    table = Table()
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row[c]) for c in columns))
    console.print(table)


# --------------------------------------------------------------------------- users


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option("--role", help="operator, supervisor, quality, maintenance, manager, admin")],
    display_name: Annotated[str, typer.Option("--display-name", help="Name shown in pages.")] = "",
    locale: Annotated[str, typer.Option("--locale", help="en or zh-CN")] = "en",
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Add a user (asks for the password). Example: linebrain users add ann --role supervisor"""
    from mes.auth import users

    password = _password(password_stdin)
    with _connect(database_url, data_dir) as conn:
        _run(users.add_user, conn, name, role, password, actor=_actor(), display_name=display_name, locale=locale)
    console.print(f"user {name} added ({role})")


@users_app.command("list")
def list_users(as_json: AsJson = False, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Every user with role, locale and state. Example: linebrain users list"""
    from mes.auth import users

    with _connect(database_url, data_dir) as conn:
        rows = users.list_users(conn)
    _print(rows, ["name", "display_name", "role", "locale", "disabled", "locked_until", "password_changed_at"],
           as_json)  # fmt: skip


@users_app.command("passwd")
def passwd(
    name: str, password_stdin: PasswordStdin = False, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Set a new password (ends the user's sessions, lifts a lock). Example: linebrain users passwd ann"""
    from mes.auth import users

    password = _password(password_stdin)
    with _connect(database_url, data_dir) as conn:
        _run(users.change_user, conn, name, actor=_actor(), password=password)
    console.print(f"password of {name} changed")


@users_app.command("role")
def role(name: str, new_role: Annotated[str, typer.Argument(help="The new role.")],
         database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:  # fmt: skip
    """Give a user another role. Example: linebrain users role ann manager"""
    from mes.auth import users

    with _connect(database_url, data_dir) as conn:
        _run(users.change_user, conn, name, actor=_actor(), role=new_role)
    console.print(f"{name} is now {new_role}")


@users_app.command("disable")
def disable(name: str, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Disable a user: no sign-in, sessions end, tokens stop working. Example: linebrain users disable ann"""
    from mes.auth import users

    with _connect(database_url, data_dir) as conn:
        _run(users.change_user, conn, name, actor=_actor(), disabled=True)
    console.print(f"{name} disabled")


@users_app.command("enable")
def enable(name: str, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Enable a disabled user again. Example: linebrain users enable ann"""
    from mes.auth import users

    with _connect(database_url, data_dir) as conn:
        _run(users.change_user, conn, name, actor=_actor(), disabled=False)
    console.print(f"{name} enabled")


# --------------------------------------------------------------------------- tokens


def parse_expiry(text: str | None) -> datetime | None:
    """``90d``, ``12h``, ``never`` or an ISO date/time (UTC when it has no offset)."""
    if text is None or text == "never":
        return None
    if text[-1:] in ("d", "h") and text[:-1].isdigit():
        return datetime.now(UTC) + timedelta(**{"days" if text[-1] == "d" else "hours": int(text[:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: use 90d, 12h, never or 2027-01-31", param_hint="--expires") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@tokens_app.command("create")
def create_token(
    user: Annotated[str, typer.Option("--user", help="Whose token (it acts with this user's role).")],
    scope: Annotated[list[str], typer.Option("--scope", help="read, write or an action; repeatable.")] = ["read"],  # noqa: B006
    expires: Annotated[str | None, typer.Option("--expires", help="90d, 12h, never or a date.")] = "90d",
    name: Annotated[str, typer.Option("--name", help="What it is for.")] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API token and print it — the only time it is shown.
    Example: linebrain tokens create --user mes-bridge --scope write --expires 90d"""
    from mes.auth import tokens

    scopes = [part.strip() for item in scope for part in item.split(",") if part.strip()]
    with _connect(database_url, data_dir) as conn:
        secret, record = _run(tokens.create_token, conn, user, scopes, actor=_actor(), expires_at=parse_expiry(expires),
                              name=name)  # fmt: skip
    err_console.print(f"token {record['id']} for {user} ({', '.join(record['scopes'])}), expires "
                      f"{record['expires_at'] or 'never'}; store it now, it is not shown again:")  # fmt: skip
    print(secret)


@tokens_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's.")] = None,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Tokens (never their secrets). Example: linebrain tokens list --user ann"""
    from mes.auth import tokens

    with _connect(database_url, data_dir) as conn:
        rows = tokens.list_tokens(conn, user)
    _print(rows, ["id", "user_name", "name", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at"], as_json)


@tokens_app.command("revoke")
def revoke(token_id: int, database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Revoke a token at once. Example: linebrain tokens revoke 3"""
    from mes.auth import tokens

    with _connect(database_url, data_dir) as conn:
        record = _run(tokens.revoke_token, conn, token_id, actor=_actor())
    console.print(f"token {token_id} of {record['user_name']} revoked")


# --------------------------------------------------------------------------- audit


@audit_app.command("list")
def audit_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this actor.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO time (UTC if no offset), or -8h, -2d.")] = None,
    object: Annotated[str | None, typer.Option("--object", help="order:12, or a prefix ending in : or /")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 200,
    as_json: AsJson = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The audit log, newest first. Example: linebrain audit list --user ann --since -1d"""
    from mes.auth import audit
    from mes.cli.timeopts import parse_time

    start = parse_time(since, "UTC", "--since") if since else None
    with _connect(database_url, data_dir) as conn:
        rows = audit.entries(conn, user=user, since=start, object=object, limit=limit)
    if as_json:
        print(json.dumps(rows, default=str, indent=2))
        return
    _print([{**r, "change": _change(r["before"], r["after"])} for r in rows],
           ["at", "actor", "action", "object", "address", "route", "change"], False)  # fmt: skip


def _change(before: Any, after: Any) -> str:
    """What changed, in short: the fields whose values differ (or the new record)."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = [k for k in after if before.get(k) != after.get(k)]
        return ", ".join(f"{k}: {before.get(k)} → {after.get(k)}" for k in keys)[:200]
    return json.dumps(after, default=str)[:200]


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(audit_app, name="audit")
