"""A real ``linebrain serve`` process on a free loopback port, for tests that must go through
uvicorn, the Host check and the middleware exactly as a plant's browser or script does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

from tests.conftest import REPO, free_port
from tests.mes.production.scenario import PLANT_YAML


@contextlib.contextmanager
def linebrain_serve(database_url: str, folder: Path, run: bool = False, **web: object) -> Iterator[str]:
    """Run ``linebrain serve --config <golden plant + web>`` (or with ``run``: ``linebrain run <config>
    --serve``, collectors and MES jobs too) until the block ends; yields the server's base URL."""
    port = free_port()
    doc = yaml.safe_load(PLANT_YAML)
    doc["web"] = {"bind": "127.0.0.1", "port": port, **web}
    doc["connections"][0]["port"] = free_port()  # no PLC there: the collector keeps retrying
    config = folder / "plant.yaml"
    config.write_text(yaml.safe_dump(doc))
    log = (folder / "serve.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    verb = ["run", str(config), "--serve", "--metrics-port", "0", "--spool-dir", str(folder / "spool")] if run \
        else ["serve", "--config", str(config)]  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "mes.cli", *verb, "--database-url", database_url], stdout=log,
                               stderr=subprocess.STDOUT, env=env)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"linebrain serve did not start:\n{(folder / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    # A clean stop: uvicorn shuts down and re-raises SIGTERM (systemd counts that as success).
    assert process.returncode in (0, -signal.SIGTERM), (folder / "serve.log").read_text()[-3000:]
