"""Alarm KPIs on a hand-made hour: a chattering point, a flood, a stale alarm, the top ten and the priority mix,
each figure worked out by hand in the comments (readings go through the real engine and store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.config.models import Plant
from collectors.samples import Sample
from mes.alarms import store
from mes.alarms.engine import AlarmEngine
from mes.alarms.kpi import alarm_kpis
from mes.errors import InvalidInput

SINCE = datetime(2026, 3, 2, 8, tzinfo=UTC)
UNTIL = SINCE + timedelta(hours=1)


def plant() -> Plant:
    tags = ["x", "z", *(f"y{i}" for i in range(12))]
    return Plant.model_validate({
        "site": {"name": "KPI"},
        "areas": [{"id": "press"}, {"id": "paint"}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 502}],
        "tags": [{"name": t, "connection": "plc", "table": "holding_register", "address": 2 * i,
                  "data_type": "float32"} for i, t in enumerate(tags)],
        "alarms": {"rules": [
            {"name": "p_hi", "tag": "x", "kind": "high", "limit": 10, "priority": "high", "area": "press"},
            {"name": "y_hi", "tags": "y*", "kind": "high", "limit": 10, "priority": "low", "area": "press"},
            {"name": "z_hi", "tag": "z", "kind": "high", "limit": 10, "priority": "medium", "area": "paint"},
        ]},
    })  # fmt: skip


def feed(conn: psycopg.Connection, engine: AlarmEngine, ids: dict, readings: list[tuple[str, datetime, float]]):
    for tag, at, value in readings:
        with conn.transaction():
            for change in engine.evaluate([Sample(tag, at, value)]):
                store.record_change(conn, ids[change.condition.key], change)


def test_kpis_match_the_hand_count(db: psycopg.Connection) -> None:
    engine = AlarmEngine(plant())
    ids = store.sync_points(db, engine.conditions)
    s = timedelta(seconds=1)
    feed(db, engine, ids, [("z", SINCE - timedelta(hours=25), 20.0)])  # raised 25 h before the end: stale
    # x raises three times in 40 s (window 0): chattering
    feed(db, engine, ids, [("x", SINCE + t * s, v) for t, v in ((0, 20), (10, 0), (20, 20), (30, 0), (40, 20))])
    # twelve y alarms at 08:15 (window 1): a flood (> 10)
    feed(db, engine, ids, [(f"y{i}", SINCE + 15 * 60 * s, 20.0) for i in range(12)])
    paint, press, plant_wide = alarm_kpis(db, SINCE, UNTIL)  # areas in name order, then the plant
    assert press["area"] == "press" and paint["area"] == "paint" and plant_wide["area"] == "*"
    # press: 15 annunciations over 6 windows = 2.5 per 10 min; 1 of 6 windows flooded
    assert (press["annunciations"], press["windows"], press["per_10_min"]) == (15, 6, 2.5)
    assert (press["flood_windows"], press["flood_share"]) == (1, pytest.approx(1 / 6))
    assert press["chattering"] == ["p_hi:x"] and press["stale"] == 0
    # top ten points: x (3) + nine y (1 each) = 12 of 15
    assert press["top10_share"] == pytest.approx(12 / 15)
    assert press["priority_mix"] == {"low": 0.8, "medium": 0.0, "high": 0.2, "urgent": 0.0}
    # paint: nothing annunciated in the hour, one alarm active for 25 h
    assert (paint["annunciations"], paint["stale"], paint["per_10_min"], paint["top10_share"]) == (0, 1, 0.0, None)
    assert (plant_wide["annunciations"], plant_wide["stale"], plant_wide["flood_windows"]) == (15, 1, 1)
    with pytest.raises(InvalidInput):
        alarm_kpis(db, UNTIL, SINCE)


def test_two_alarms_of_a_point_a_minute_and_more_apart_are_not_chattering(db: psycopg.Connection) -> None:
    engine = AlarmEngine(plant())
    ids = store.sync_points(db, engine.conditions)
    s = timedelta(seconds=1)
    feed(db, engine, ids, [("x", SINCE + t * s, v) for t, v in ((0, 20), (10, 0), (20, 20), (30, 0), (61, 20))])
    [press, _] = alarm_kpis(db, SINCE, UNTIL)
    assert press["annunciations"] == 3 and press["chattering"] == []
