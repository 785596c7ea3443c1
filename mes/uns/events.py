"""MES events → the MQTT unified namespace, for consumers other than LineBrain.

Topics follow the equipment model (ISA-95): ``{enterprise}/{site}/{area}/{line}[/{unit}]/mes/{kind}``
(names made topic-safe), JSON payloads at QoS 1:

- ``state``: a unit's new state interval (``state``, ``since``, ``fault_code``), retained;
- ``counts``: a line's good / reject / total in the current shift so far, retained, published when
  they change;
- ``order``: an order's start (or resume) and completion (``number``, ``product``, ``status``,
  ``at``, ``by``);
- ``oee``: the ISO 22400 KPI row of a shift that has ended (``mes_kpi``: OEE, its factors and the
  time elements), retained.

What was published is remembered in ``uns_watermarks`` (last state interval and order
transition id, last shift end), so a restart publishes what happened meanwhile once more at
most for the round it was in, and never skips an event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from collectors.config.models import Plant
from collectors.sparkplug.payloads import topic_id
from mes.production.kpi import period_kpi

log = logging.getLogger("linebrain.uns")


@dataclass(frozen=True)
class MesEvent:
    topic: str
    payload: dict[str, Any]
    retain: bool

    def body(self) -> bytes:
        return json.dumps(self.payload, default=_jsonable, sort_keys=True).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def topic_paths(plant: Plant) -> dict[str, str]:
    """Equipment id (line or unit) → its topic prefix in the namespace."""
    base = [topic_id(plant.site.enterprise), topic_id(plant.site.name)]
    paths: dict[str, str] = {}
    for area in plant.areas:
        for line in area.lines:
            line_path = "/".join([*base, topic_id(area.id), topic_id(line.id)])
            paths[line.id] = line_path
            for unit in line.equipment:
                paths[unit.id] = f"{line_path}/{topic_id(unit.id)}"
    return paths


def _watermark(conn: psycopg.Connection, stream: str) -> tuple[int, datetime | None]:
    row = conn.execute("SELECT last_id, last_time FROM uns_watermarks WHERE stream = %s", (stream,)).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def _advance(conn: psycopg.Connection, stream: str, last_id: int, last_time: datetime | None) -> None:
    conn.execute("INSERT INTO uns_watermarks (stream, last_id, last_time) VALUES (%s, %s, %s) "
                 "ON CONFLICT (stream) DO UPDATE SET last_id = EXCLUDED.last_id, last_time = EXCLUDED.last_time",
                 (stream, last_id, last_time))  # fmt: skip


def collect_events(conn: psycopg.Connection, plant: Plant, now: datetime | None = None) -> list[MesEvent]:
    """The events not yet published, oldest first per stream; advances the watermarks (call it in the
    transaction that publishes, or accept that a crash in between skips nothing but repeats a round)."""
    now = now or datetime.now(UTC)
    paths = topic_paths(plant)
    return [*_states(conn, paths), *_orders(conn, paths), *_shift_oee(conn, paths, now)]


def _states(conn: psycopg.Connection, paths: dict[str, str]) -> list[MesEvent]:
    last_id, _ = _watermark(conn, "state")
    rows = conn.execute("SELECT id, equipment_id, lower(period), state, fault_code FROM state_intervals "
                        "WHERE id > %s ORDER BY id", (last_id,)).fetchall()  # fmt: skip
    events = [MesEvent(f"{paths[unit]}/mes/state", {"unit": unit, "state": state, "since": since,
                                                    "fault_code": fault}, True)
              for _, unit, since, state, fault in rows if unit in paths]  # fmt: skip
    if rows:
        _advance(conn, "state", rows[-1][0], None)
    return events


def _orders(conn: psycopg.Connection, paths: dict[str, str]) -> list[MesEvent]:
    last_id, _ = _watermark(conn, "order")
    rows = conn.execute("""
        SELECT t.id, o.line_id, o.number, o.product_id, t.from_status, t.to_status, t.at, t.by_user
        FROM work_order_transitions t JOIN work_orders o ON o.id = t.order_id
        WHERE t.id > %s ORDER BY t.id""", (last_id,)).fetchall()  # fmt: skip
    events = [MesEvent(f"{paths[line]}/mes/order", {"order": number, "product": product, "from": before,
                                                    "status": after, "at": at, "by": by}, False)
              for _, line, number, product, before, after, at, by in rows
              if line in paths and after in ("running", "completed")]  # fmt: skip
    if rows:
        _advance(conn, "order", rows[-1][0], None)
    return events


def _shift_oee(conn: psycopg.Connection, paths: dict[str, str], now: datetime) -> list[MesEvent]:
    _, last_end = _watermark(conn, "oee")
    rows = conn.execute("""
        SELECT line_id, name, local_date, lower(period), upper(period) FROM shift_instances
        WHERE upper(period) <= %s AND (%s::timestamptz IS NULL OR upper(period) > %s)
        ORDER BY upper(period)""", (now, last_end, last_end)).fetchall()  # fmt: skip
    if last_end is None:  # first round: start from now, do not publish the whole history
        _advance(conn, "oee", 0, now)
        return []
    events: list[MesEvent] = []
    for line, name, local_date, start, end in rows:
        if line not in paths:
            continue
        kpi = period_kpi(conn, line, start, end)
        events.append(MesEvent(f"{paths[line]}/mes/oee", {"shift": name, "date": local_date, "start": start,
                                                          "end": end, **kpi}, True))  # fmt: skip
    if rows:
        _advance(conn, "oee", 0, rows[-1][4])
    return events


def shift_counts(conn: psycopg.Connection, plant: Plant, now: datetime) -> list[MesEvent]:
    """Each line's counts in its current shift so far (good, reject, total)."""
    paths = topic_paths(plant)
    rows = conn.execute("""
        SELECT s.line_id, s.name, lower(s.period),
               coalesce(sum(b.good), 0), coalesce(sum(b.reject), 0), coalesce(sum(b.total), 0)
        FROM shift_instances s
        LEFT JOIN count_buckets b ON b.equipment_id = s.line_id AND b.cut_end > lower(s.period)
             AND b.cut_end <= upper(s.period)
        WHERE s.period @> %s::timestamptz
        GROUP BY s.line_id, s.name, lower(s.period)""", (now,)).fetchall()  # fmt: skip
    return [MesEvent(f"{paths[line]}/mes/counts", {"shift": name, "since": since, "good": good,
                                                   "reject": reject, "total": total}, True)
            for line, name, since, good, reject, total in rows if line in paths]  # fmt: skip


class UnsPublisher:
    """Publishes MES events to the config's broker (one MQTT client, QoS 1)."""

    def __init__(self, plant: Plant, client_id: str = "linebrain-mes") -> None:
        from collectors.mqtt.broker import connect, new_client

        if plant.mqtt is None:
            raise ValueError("the config has no mqtt section")
        self.client, properties = new_client(plant.mqtt, client_id, clean_start=True)
        connect(self.client, plant.mqtt, properties, clean_start=True)
        self.client.loop_start()
        self._last_counts: dict[str, bytes] = {}

    def publish(self, events: Iterable[MesEvent], timeout: float = 10.0) -> int:
        """Publish and wait for the broker's acknowledgements; counts are sent only when they changed."""
        infos = []
        for event in events:
            body = event.body()
            if event.topic.endswith("/mes/counts"):
                if self._last_counts.get(event.topic) == body:
                    continue
                self._last_counts[event.topic] = body
            infos.append(self.client.publish(event.topic, body, qos=1, retain=event.retain))
        for info in infos:
            info.wait_for_publish(timeout)
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
