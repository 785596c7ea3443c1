"""Options of one simulator run (the CLI flags map onto these one to one)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

SCENARIOS = ("brewery", "process", "utilities", "motors")
SECURITY_POLICIES = ("None", "Basic256Sha256_Sign", "Basic256Sha256_SignAndEncrypt")


@dataclass(frozen=True)
class OperationLimits:
    """OPC UA OperationLimits the server advertises *and enforces* (0 = no limit).

    A call with more operations than the limit is refused as a whole with
    BadTooManyOperations, as PLC servers do.
    """

    max_nodes_per_read: int = 0
    max_nodes_per_write: int = 0
    max_nodes_per_browse: int = 0
    max_monitored_items_per_call: int = 0

MAX_SPEED = 1e6  # simulated seconds per wall second: about eleven simulated days a second


@dataclass(frozen=True)
class SimulatorOptions:
    """What to simulate and where to serve it.

    ``speed`` is simulated seconds per wall second (60: an hour per minute);
    0 freezes the clock so only :meth:`Simulator.advance` moves it. Ports 0 pick
    free ports; the ports in use are on the running :class:`Simulator`.
    ``start`` fixes the simulated start time (default: now), which together with
    ``seed`` makes break times and source timestamps reproducible too.
    """

    scenario: str = "brewery"  # brewery | process | utilities | motors | all
    seed: int = 1
    speed: float = 1.0
    start: datetime | None = None
    host: str = "127.0.0.1"
    modbus_port: int | None = 0  # None: no Modbus server
    opcua_port: int | None = 0  # None: no OPC UA server
    tags: int = 0  # scale mode: extra changing tags on each protocol
    scale_protocols: tuple[str, ...] = ("modbus", "opcua")
    scale_interval: float = 1.0  # wall seconds between changes of the scale tags
    tick: float = 0.1  # wall seconds between publishes of scenario values
    order_minutes: float = 120.0  # brewery: simulated minutes per work order
    counter_start: int = 0  # brewery: first order's counters start here (to test wraps early)
    setpoint_entry: str = "preset"  # brewery: preset | manual | download (simulator/changeover.py)
    limits: OperationLimits = OperationLimits()
    security: tuple[str, ...] = ("None",)
    users: dict[str, str] = field(default_factory=dict)  # user name → password
    allow_anonymous: bool = True
    cert_dir: Path | None = None  # server certificate/key; a temporary folder when None
    control_port: int | None = None  # JSON-lines control channel (see control.py); 0 picks a free port

    def scenario_names(self) -> tuple[str, ...]:
        if self.scenario == "all":
            return SCENARIOS
        names = tuple(s.strip() for s in self.scenario.split(",") if s.strip())
        for name in names:
            if name not in SCENARIOS:
                raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)}, all)")
        return names

    def validate(self) -> None:
        self.scenario_names()
        for name in ("speed", "scale_interval", "tick", "order_minutes"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, not {value!r}")
        if not 0 <= self.speed <= MAX_SPEED:
            raise ValueError(f"speed must lie between 0 and {MAX_SPEED:g}, not {self.speed!r}")
        for name in ("scale_interval", "tick", "order_minutes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        if self.tags < 0:
            raise ValueError("tags must be >= 0")
        if self.setpoint_entry not in ("preset", "manual", "download"):
            raise ValueError(f"setpoint_entry must be preset, manual or download, not {self.setpoint_entry!r}")
        for policy in self.security:
            if policy not in SECURITY_POLICIES:
                raise ValueError(f"unknown security policy {policy!r} (known: {', '.join(SECURITY_POLICIES)})")
        for protocol in self.scale_protocols:
            if protocol not in ("modbus", "opcua"):
                raise ValueError(f"unknown scale protocol {protocol!r}")
