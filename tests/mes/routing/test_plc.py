"""Counts reported by a machine's counter tags, booked to the operation its PLC operation tag
shows: derived from real samples, split where the tag changes, booked once however often it runs."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import yaml

from collectors.config import parse_plant
from mes.cli.collect import MES_JOB_MODULES
from mes.production import derive, orders
from mes.routing import flow, jobs, operations, plc, routings
from mes.routing.routings import OperationSpec as Op
from tests.mes.production.scenario import PLANT_YAML, RUNNING, SampleWriter, local, state_series

T0 = local("2026-03-04", "07:00")


def test_machine_counts_go_to_the_operation_the_plc_shows_once(db: psycopg.Connection) -> None:
    doc = yaml.safe_load(PLANT_YAML)
    doc["tags"].append({"name": "operation", "connection": "plc", "table": "holding_register", "address": 7,
                        "data_type": "uint16"})
    plant = parse_plant(yaml.safe_dump(doc))
    derive.run_once(db, plant, now=T0 - timedelta(hours=1))
    routings.save_work_centre(db, "filler", "line", "line1", equipment_id="line1", operation_tag="operation")
    routings.create_routing(db, "lager", [Op(10, "fill", "filler", 0.01), Op(20, "refill", "filler", 0.01)], "eng")
    order = operations.create_routed_order(db, "B-1", "line1", "lager", 1000, "planner")
    orders.transition(db, order["id"], "running", "ann", at=T0)
    writer = SampleWriter(db)
    state_series(writer, [(T0, T0 + timedelta(minutes=60), RUNNING)])
    for minute in range(61):  # the good counter: 10 a minute; 1 reject a minute from minute 41
        writer.add("good", T0 + timedelta(minutes=minute), 10 * minute)
        writer.add("reject", T0 + timedelta(minutes=minute), max(minute - 40, 0))
    writer.add("operation", T0, 10)  # the operation number alone: the order is the line's running one
    writer.add("operation", T0 + timedelta(minutes=20), 0)  # blank between operations
    writer.add("operation", T0 + timedelta(minutes=30), 20)
    writer.flush()
    derive.run_once(db, plant, now=T0 + timedelta(minutes=61))
    end = T0 + timedelta(minutes=60)
    first = plc.book_from_operation_tag(db, "filler", T0, end)
    again = plc.book_from_operation_tag(db, "filler", T0 - timedelta(minutes=5), end)
    assert first.errors == [] and first.unbooked == 10 and first.buckets == 50 and again.buckets == 0
    by_seq = {f["seq"]: f for f in flow.operation_flow(db, order["id"], at=end)}
    assert (by_seq[10]["good"], by_seq[10]["scrap"]) == (200, 0)  # minutes 1-20
    assert (by_seq[20]["good"], by_seq[20]["scrap"]) == (300, 20)  # minutes 31-60, rejects from 41
    assert jobs.book_round(db, end + timedelta(minutes=1)).errors == []  # what `linebrain run` does: nothing new
    assert "mes.routing.jobs" in MES_JOB_MODULES and len(jobs.jobs(plant, "postgresql://unused")) == 1
