"""``linebrain browse``: discover an OPC UA server's variables and write a config for them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mes.cli.common import console, err_console


def browse(
    endpoint: Annotated[
        str, typer.Argument(help="Server endpoint, opc.tcp://host:port (and path, if any).", show_default=False)
    ],
    depth: Annotated[int, typer.Option(min=1, max=64, help="Levels below the Objects folder.")] = 10,
    pattern: Annotated[
        str | None, typer.Option(help="Glob on the variable's path or name, e.g. 'Line1/*' or '*Temp*'.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write a plant config YAML instead of printing a table.")
    ] = None,
    mode: Annotated[str, typer.Option(help="Tag mode in the written config: poll or subscribe.")] = "poll",
    connection_id: Annotated[str, typer.Option("--connection-id", help="Connection id in the config.")] = "opcua1",
    policy: Annotated[
        str, typer.Option(help="None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss.")
    ] = "None",
    security_mode: Annotated[str, typer.Option("--security-mode", help="None, Sign or SignAndEncrypt.")] = "None",
    username: Annotated[str | None, typer.Option(help="User name login.")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="LINEBRAIN_OPCUA_PASSWORD", help="Password (or env:NAME, file:PATH).")
    ] = None,
    trust_dir: Annotated[Path | None, typer.Option(help="Folder of trusted server certificates.")] = None,
    allow_plaintext_password: Annotated[bool, typer.Option(
        "--allow-plaintext-password", help="Send a password on policy None (refused otherwise).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
) -> None:
    """Walk an OPC UA server's address space (batched Browse/BrowseNext) and list its variables
    with data types and units, or write them as a plant config that `linebrain check` accepts.

    Examples:
      linebrain browse opc.tcp://plc1:4840 --depth 4 --pattern '*Temperature*'
      linebrain browse opc.tcp://plc1:4840 --output plant.yaml --mode subscribe
    """
    from collectors.config.models import OpcuaSecurity
    from collectors.drivers.opcua import config_from_variables
    from collectors.errors import LineBrainError

    if mode not in ("poll", "subscribe"):
        err_console.print(f"--mode must be poll or subscribe, not {mode!r}")
        raise typer.Exit(2)
    try:
        security = OpcuaSecurity.model_validate({"policy": policy, "mode": security_mode, "username": username,
                                                 "password": password,
                                                 "allow_plaintext_password": allow_plaintext_password,
                                                 "trust_dir": str(trust_dir) if trust_dir else None})
    except ValueError as exc:
        err_console.print(f"security options: {exc}", markup=False)
        raise typer.Exit(2) from None
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # its connect chatter is not for this listing
    try:
        variables = asyncio.run(_walk(endpoint, security, depth, pattern, timeout))
    except (LineBrainError, OSError, TimeoutError) as exc:
        err_console.print(f"browse {endpoint}: {exc or type(exc).__name__}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if output is None:
        _print(variables)
        return
    written: dict[str, str | bool] = {"policy": policy, "mode": security_mode} if policy != "None" else {}
    if username:
        written.update(username=username, password="env:LINEBRAIN_OPCUA_PASSWORD")
        if allow_plaintext_password and policy == "None":
            written["allow_plaintext_password"] = True
    if trust_dir:
        written["trust_dir"] = str(trust_dir)
    text = config_from_variables(variables, endpoint, connection_id=connection_id, mode=mode,
                                 security=written or None)
    output.write_text(text, encoding="utf-8")
    console.print(f"{output}: {len(variables)} variables of {endpoint}")


async def _walk(endpoint: str, security, depth: int, pattern: str | None, timeout: float):
    from asyncua import Client

    from collectors.drivers.opcua import browse as browse_space
    from collectors.drivers.opcua.failures import as_device_error
    from collectors.drivers.opcua.security import apply_security, default_pki_dir

    client = Client(endpoint, timeout=timeout, watchdog_intervall=max(5.0, 2 * timeout))
    await apply_security(client, security, default_pki_dir(), endpoint)
    try:
        await client.connect()
    except Exception as exc:
        raise as_device_error(exc, f"connect to {endpoint}") from exc
    try:
        return await browse_space(client.uaclient, depth=depth, pattern=pattern)
    finally:
        await client.disconnect()


def _print(variables) -> None:
    table = Table(title=f"{len(variables)} variables")
    for column in ("path", "node id", "data type", "unit"):
        table.add_column(column, overflow="fold")
    for variable in variables:
        table.add_row(variable.path, variable.node_id, variable.data_type, variable.unit)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("browse")(browse)
