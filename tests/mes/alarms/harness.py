"""A plant running in a thread for the alarm tests: the process simulator over Modbus, the real collector
service (workers, pipeline, store) and the alarm evaluation plugged into the pipeline as in `linebrain run`.

Tests drive the simulator with forced values (``force``) and read the alarm tables; waiting is by polling
the database with a deadline, since evaluation is asynchronous by design."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from collectors.config.models import Plant
from collectors.service import CollectorService, ServiceOptions
from mes.alarms.evaluation import AlarmEvaluation
from simulator import Simulator, SimulatorOptions

AUTOCLAVE = "Impregnation.CuringLine.Autoclave"


class RunningPlant:
    """Simulator + collector service + alarm evaluation on an event loop in a thread of their own."""

    def __init__(self, make_plant: Callable[[Simulator], Plant], database_url: str, spool: Path,
                 options: SimulatorOptions | None = None) -> None:  # fmt: skip
        self.make_plant = make_plant
        self.database_url = database_url
        self.spool = spool
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim: Simulator = self.call(self._start_sim(options or SimulatorOptions(
            scenario="process", seed=3, speed=0, opcua_port=None)))
        self.plant = make_plant(self.sim)
        self.service: CollectorService | None = None
        self.evaluation: AlarmEvaluation | None = None
        self._running: Any = None

    def call(self, coroutine: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start_sim(self, options: SimulatorOptions) -> Simulator:
        sim = Simulator(options)
        await sim.start()
        return sim

    def start_collecting(self) -> None:
        self.evaluation = AlarmEvaluation(self.plant, self.database_url, tick_s=0.05)
        self.service = CollectorService(self.plant, self.database_url,
                                        ServiceOptions(spool_dir=self.spool, metrics_port=None, announce=False))
        self._running = asyncio.run_coroutine_threadsafe(
            self.service.run(jobs=[self.evaluation.job], listeners=[self.evaluation.listen]), self.loop)
        deadline = time.monotonic() + 30
        while not self.evaluation.ready.is_set():
            assert time.monotonic() < deadline, "alarm evaluation did not start"
            time.sleep(0.05)

    def stop_collecting(self) -> None:
        assert self.service is not None
        self.loop.call_soon_threadsafe(self.service.stop)
        self._running.result(30)

    def force(self, point: str, value: Any) -> None:
        self.call(self.sim.force(f"{AUTOCLAVE}.{point}", value))

    def close(self) -> None:
        if self.service is not None and not self._running.done():
            self.stop_collecting()
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    # ------------------------------------------------------------------ reading the alarm tables

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def occurrences(self, rule: str) -> list[dict[str, Any]]:
        return self.query("SELECT o.* FROM alarm_occurrences o JOIN alarm_points p ON p.id = o.point_id "
                          "WHERE p.rule = %s ORDER BY o.id", (rule,))  # fmt: skip

    def wait_for(self, what: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = what()
            if result:
                return result
            assert time.monotonic() < deadline, message or "condition not reached"
            time.sleep(0.05)

    def states(self, rule: str) -> list[str]:
        return [o["state"] for o in self.occurrences(rule)]

    def wait_states(self, rule: str, expected: list[str], timeout: float = 10.0) -> list[dict[str, Any]]:
        self.wait_for(lambda: self.states(rule) == expected, timeout,
                      f"{rule}: expected {expected}, have {self.states(rule)}")
        return self.occurrences(rule)

    def point_id(self, rule: str) -> int:
        return int(self.query("SELECT id FROM alarm_points WHERE rule = %s", (rule,))[0]["id"])
