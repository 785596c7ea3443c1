"""A live plant for the page tests: the brewery simulator (OPC UA), the collectors, derivation
every half second and the served app (API + pages) on the simulator's clock, all in one
background thread with its own event loop. The tests drive it with a real chromium."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

SPEED = 30.0  # simulated seconds per wall second: a stop of the filler every ~10 s of test time
SEED = 5


def shift_morning(today: datetime) -> datetime:
    """07:00 plant time today: inside the early shift, far from its 10:00 break."""
    from simulator.brewery import TIMEZONE

    local = today.astimezone(ZoneInfo(TIMEZONE)).replace(hour=7, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


@dataclass
class LivePlant:
    database_url: str
    spool: Path
    base_url: str = ""
    sim: Any = None
    loop: asyncio.AbstractEventLoop | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    stop_event: asyncio.Event | None = None
    thread: threading.Thread | None = None
    error: BaseException | None = None
    before_start: list[Callable[[Any], None]] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> None:
        self.thread = threading.Thread(target=self._run, name="live-plant", daemon=True)
        self.thread.start()
        if not self.ready.wait(timeout) or self.error:
            raise RuntimeError(f"the live plant did not start: {self.error!r}")

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the plant's event loop thread (the simulator is not thread-safe)."""
        assert self.loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def stop(self) -> None:
        if self.loop and self.stop_event:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        if self.thread:
            self.thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the waiting test
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        import psycopg
        import uvicorn

        from collectors.service import CollectorService, ServiceOptions
        from mes.api import create_app
        from mes.demo_plant import demo_plant
        from mes.jobs import derivation_job
        from mes.production.sync import sync_plant
        from simulator import Simulator, SimulatorOptions
        from tests.conftest import free_port

        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        start = shift_morning(datetime.now(UTC))
        options = SimulatorOptions(scenario="brewery", seed=SEED, speed=SPEED, start=start, modbus_port=None)
        async with Simulator(options) as sim:
            self.sim = sim
            plant = demo_plant(sim.opcua_endpoint)
            # A wall screen wants fresh facts: store batches at most 0.25 s old (the default is 1 s).
            plant = plant.model_copy(update={"storage": plant.storage.model_copy(update={"batch_max_age_s": 0.25})})
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                sync_plant(conn, plant, now=start)
            for prepare in self.before_start:
                prepare(self)
            service = CollectorService(plant, self.database_url, ServiceOptions(
                name="pages-test", spool_dir=self.spool, metrics_port=None, announce=False))  # fmt: skip
            job = derivation_job(plant, self.database_url, every_s=0.3, clock=lambda: sim.now)
            app = create_app(self.database_url)
            app.state.clock = lambda: sim.now
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                   lifespan="on"))  # fmt: skip
            tasks = [asyncio.create_task(service.run(jobs=[job])), asyncio.create_task(server.serve())]
            await service.started.wait()
            while not server.started:
                await asyncio.sleep(0.05)
            self.base_url = f"http://127.0.0.1:{port}"
            self.ready.set()
            await self.stop_event.wait()
            service.stop()
            server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)


def wait_for(check: Callable[[], Any], timeout: float, every: float = 0.2, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def get(plant: LivePlant, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(plant.base_url + path, timeout=10, **kwargs)




def db(plant: LivePlant):
    import psycopg

    return psycopg.connect(plant.database_url, autocommit=True)


def ended_stop(plant: LivePlant, timeout: float = 60.0) -> dict:
    """Wait for a real stop of the line that has ended (the filler's own faults come every few
    simulated minutes) and return it."""
    from mes.production import downtime, status

    def find() -> dict | None:
        with db(plant) as conn:
            now = plant.sim.now
            state = status.line_status(conn, "line1", now)["state"]
            since = state["since"] if state and state["state"] != "running" else now
            events = downtime.list_events(conn, "line1", now.replace(hour=0), now, kind="stop")
            ended = [e for e in events if e["end"] is not None and e["end"] <= since and e["seconds"] >= 2]
            return ended[-1] if ended else None

    return wait_for(find, timeout, every=0.5, what="an ended stop of line1")
