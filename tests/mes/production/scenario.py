"""Helpers for MES tests: a small plant, hand-built sample series written straight into
the samples table, and the derivation run over them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import yaml

from collectors.config import parse_plant
from collectors.config.models import Plant
from collectors.samples import BAD_COMMUNICATION_ERROR, GOOD

# Raw PLC state codes of the test line.
NULL = "\\N"
RUNNING, IDLE, FAULT, JAM, CHANGEOVER = 1, 2, 3, 4, 5

PLANT_YAML = """
site: {name: Golden Brewery, timezone: Europe/Berlin}
areas:
  - id: packaging
    lines:
      - id: line1
        shift_pattern: two-shift
        micro_stop_seconds: 30
        minor_stop_loss: performance
        bindings:
          state: {tag: state, codes: {running: [1], idle: [2], fault: [3, 4], changeover: [5]}}
          good_count: {tag: good, bits: 16}
          reject_count: {tag: reject, bits: 16}
          energy: energy
        downtime_reasons:
          - {code: jam, name: Bottle jam, category: Mechanical, time_element: ADET, loss: breakdown,
             fault_codes: [4]}
          - {code: cleaning, name: Cleaning, category: Setup, time_element: AUST, loss: setup}
          - {code: material, name: No material, category: Logistics, time_element: ADET, loss: breakdown}
connections:
  - {id: plc, protocol: modbus, host: 127.0.0.1, port: 5020,
     poll_groups: [{name: default, interval: 1}]}
tags:
  - {name: state, connection: plc, table: holding_register, address: 0, data_type: uint16, heartbeat: 60}
  - {name: good, connection: plc, table: holding_register, address: 1, data_type: uint16}
  - {name: reject, connection: plc, table: holding_register, address: 2, data_type: uint16}
  - {name: energy, connection: plc, table: holding_register, address: 3, data_type: float32}
  - {name: order_no, connection: plc, table: holding_register, address: 5, data_type: uint32}
products:
  - {id: lager, ideal_cycle_time: {line1: 0.5}}
  - {id: pils, ideal_cycle_time: {line1: 0.4}}
shift_patterns:
  - id: two-shift
    shifts:
      - {name: early, start: "06:00", end: "14:00", breaks: [{start: "10:00", minutes: 30}]}
      - {name: late, start: "14:00", end: "22:00"}
"""


def plant(**line_overrides: object) -> Plant:
    """The golden plant, with optional overrides of line1's settings."""
    doc = yaml.safe_load(PLANT_YAML)
    doc["areas"][0]["lines"][0].update(line_overrides)
    return parse_plant(yaml.safe_dump(doc))


def local(day: str, clock: str, tz: str = "Europe/Berlin") -> datetime:
    """A plant-local wall clock time as an aware UTC datetime."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass
class SampleWriter:
    """Collects (tag, time, value, status) rows and COPYs them into ``samples``."""

    conn: psycopg.Connection
    rows: list[tuple[str, datetime, float | None, int]] = field(default_factory=list)

    def add(self, tag: str, time: datetime, value: float | None, status: int = GOOD) -> None:
        self.rows.append((tag, time, value, status))

    def bad(self, tag: str, time: datetime) -> None:
        self.rows.append((tag, time, None, BAD_COMMUNICATION_ERROR))

    def flush(self) -> int:
        if not self.rows:
            return 0
        ids = {name: tag_id for tag_id, name in self.conn.execute("SELECT id, name FROM tags")}
        times = [row[1] for row in self.rows]
        self.conn.execute("SELECT ensure_sample_partitions(%s, %s)", (min(times), max(times)))
        buf = io.StringIO()
        for tag, time, value, status in self.rows:
            text = NULL if value is None else repr(float(value))
            buf.write(f"{time.isoformat()}\t{ids[tag]}\t{text}\t{status}\n")
        with self.conn.cursor() as cur, cur.copy("COPY samples (time, tag_id, value, status) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        count = len(self.rows)
        self.rows.clear()
        return count


def state_series(writer: SampleWriter, segments: list[tuple[datetime, datetime, int | None]],
                 heartbeat: timedelta = timedelta(seconds=60)) -> None:
    """Write the state tag as a collector would: a sample at every change and one per
    heartbeat while unchanged. A segment with code None is a gap (no samples at all)."""
    for start, end, code in segments:
        if code is None:
            continue
        t = start
        while t < end:
            writer.add("state", t, code)
            t += heartbeat
