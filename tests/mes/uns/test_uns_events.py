"""MES events reach the MQTT unified namespace: state changes, orders, shift counts, OEE per ended shift."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import paho.mqtt.client as paho
import psycopg

from collectors.config.models import Mqtt
from mes.production.kpi import period_kpi
from mes.production.sync import sync_plant
from mes.uns.events import UnsPublisher
from mes.uns.jobs import publish_round
from tests.collectors.mqtt.broker import Mosquitto
from tests.mes.production.scenario import local, plant


def test_state_order_and_shift_oee_are_published_once_under_the_equipment_path(
    db: psycopg.Connection, mosquitto: Mosquitto
) -> None:
    the_plant = plant().model_copy(update={"mqtt": Mqtt(url=mosquitto.url)})
    sync_plant(db, the_plant, now=local("2026-03-20", "00:00"))
    got: list[tuple[str, dict, bool]] = []
    listener = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="uns-listener", protocol=paho.MQTTv5)
    listener.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload), m.retain))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("#", qos=1)
    listener.loop_start()
    time.sleep(0.3)
    publisher = UnsPublisher(the_plant, client_id="uns-test")
    try:
        first = local("2026-03-20", "05:00")
        publish_round(db, the_plant, publisher, first)
        line = the_plant.lines()[0]
        product = the_plant.products[0].id
        db.execute("INSERT INTO state_intervals (equipment_id, period, state) "
                   "VALUES (%s, tstzrange(%s, %s), 'running')",
                   (line.id, first, first + timedelta(minutes=30)))  # fmt: skip
        order = db.execute("INSERT INTO work_orders (number, line_id, product_id, planned_quantity, status, "
                           "created_by) VALUES ('WO-7', %s, %s, 500, 'completed', 'ann') RETURNING id",
                           (line.id, product)).fetchone()[0]  # fmt: skip
        for before, after, at in (("planned", "released", first), ("released", "running", first),
                                  ("running", "completed", first + timedelta(hours=2))):  # fmt: skip
            db.execute("INSERT INTO work_order_transitions (order_id, from_status, to_status, at, by_user) "
                       "VALUES (%s, %s, %s, %s, 'ann')", (order, before, after, at))  # fmt: skip
        second = local("2026-03-20", "23:00")
        publish_round(db, the_plant, publisher, second)
        publish_round(db, the_plant, publisher, second)  # nothing new: nothing again
        ended = db.execute("SELECT name, lower(period), upper(period) FROM shift_instances WHERE line_id = %s "
                           "AND upper(period) > %s AND upper(period) <= %s ORDER BY upper(period)",
                           (line.id, first, second)).fetchall()  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len([g for g in got if "/mes/" in g[0]]) < 3 + len(ended):
            time.sleep(0.05)
    finally:
        publisher.close()
        listener.loop_stop()
        listener.disconnect()
    prefix = f"Enterprise/{the_plant.site.name.replace(' ', '_')}/{the_plant.areas[0].id}/{line.id}/mes"
    states = [p for t, p, _ in got if t == f"{prefix}/state"]
    orders = [(p["order"], p["status"]) for t, p, _ in got if t == f"{prefix}/order"]
    oee = [p for t, p, _ in got if t == f"{prefix}/oee"]
    assert [(s["state"], s["since"]) for s in states] == [("running", first.isoformat())]
    assert orders == [("WO-7", "running"), ("WO-7", "completed")]  # released is not an event for others
    assert [o["shift"] for o in oee] == [name for name, _, _ in ended] and ended
    expected = period_kpi(db, line.id, ended[0][1], ended[0][2])
    assert oee[0]["oee"] == expected["oee"] and oee[0]["pbt"] == expected["pbt"]
