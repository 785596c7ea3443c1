"""A plant of two lines on different shift calendars and a utility meter, written minute by minute so
every plant figure can be checked by hand (tests/mes/reports/test_plant_report.py).

| unit        | early shift  | minute by minute                                                 |
|-------------|--------------|------------------------------------------------------------------|
| line1       | 06:00–14:00  | running (60 good + 6 scrap, 1 kWh) but a fault 08:00–09:00 (0.2 kWh) |
| line2       | 07:00–13:00  | running (30 good, 0.5 kWh)                                       |
| compressors | (no shift)   | 0.1 kWh every minute, 05:00–16:00                                |

PRU: 0.5 s on line1, 1 s on line2 (product lager). Andon: a material call on line1 at 08:05
(acknowledged after 4 min, resolved after 25), one on line2 at 08:00 (6 and 20 min), and a maintenance
call on line2 at 06:30, before its shift (not in the plant shift report).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import yaml

from collectors.config import parse_plant
from collectors.config.models import Plant
from mes.alarms import andon
from mes.production import derive, orders
from tests.mes.production.scenario import FAULT, IDLE, PLANT_YAML, RUNNING, SampleWriter, local

DAY = "2026-03-04"
SHIFTS = {"line1": ("06:00", "14:00"), "line2": ("07:00", "13:00")}
RATES = {"line1": (60, 6, 1.0), "line2": (30, 0, 0.5)}  # good, scrap, kWh per running minute
FAULT_HOUR = ("08:00", "09:00")  # line1 only
UTILITY_KWH = 0.1


def t(clock: str) -> datetime:
    return local(DAY, clock)


def plant() -> Plant:
    doc = yaml.safe_load(PLANT_YAML)
    line1 = doc["areas"][0]["lines"][0]
    line1["shift_pattern"] = "p1"
    line1["bindings"]["good_count"]["bits"] = 32
    line1["bindings"]["reject_count"]["bits"] = 32
    line2 = yaml.safe_load(yaml.safe_dump(line1))
    line2.update(id="line2", shift_pattern="p2")
    line2["bindings"]["state"]["tag"] = "state2"
    for key, tag in (("good_count", "good2"), ("reject_count", "reject2")):
        line2["bindings"][key]["tag"] = tag
    line2["bindings"]["energy"] = "energy2"
    utility = {"id": "compressors", "name": "Compressors", "bindings": {"energy": "compressor_kwh"}}
    doc["areas"][0]["lines"] += [line2, utility]
    address = 10
    for name in ("state2", "good2", "reject2", "energy2", "compressor_kwh"):
        kind = "float32" if "kwh" in name or "energy" in name else "uint32"
        doc["tags"].append({"name": name, "connection": "plc", "table": "holding_register", "address": address,
                            "data_type": kind})
        address += 2
    doc["products"] = [{"id": "lager", "ideal_cycle_time": {"line1": 0.5, "line2": 1.0}}]
    doc["shift_patterns"] = [
        {"id": f"p{i}", "shifts": [{"name": "early", "start": SHIFTS[line][0], "end": SHIFTS[line][1]}]}
        for i, line in ((1, "line1"), (2, "line2"))
    ]  # fmt: skip
    return parse_plant(yaml.safe_dump(doc), source="two-line plant")


TAGS = {"line1": ("state", "good", "reject", "energy"), "line2": ("state2", "good2", "reject2", "energy2")}


def _write_line(writer: SampleWriter, line: str) -> None:
    state_tag, good_tag, reject_tag, energy_tag = TAGS[line]
    start, end = t(SHIFTS[line][0]), t(SHIFTS[line][1])
    good_rate, scrap_rate, kwh_rate = RATES[line]
    good = scrap = 0
    kwh = 0.0
    moment = t("05:00")
    for tag in (good_tag, reject_tag, energy_tag):
        writer.add(tag, moment, 0)
    while moment < t("16:00"):
        inside = start <= moment < end
        fault = line == "line1" and t(FAULT_HOUR[0]) <= moment < t(FAULT_HOUR[1])
        writer.add(state_tag, moment, FAULT if fault else RUNNING if inside else IDLE)
        if inside:
            good, scrap = good + (0 if fault else good_rate), scrap + (0 if fault else scrap_rate)
            kwh += 0.2 if fault else kwh_rate
        at = moment + timedelta(minutes=1)
        writer.add(good_tag, at, good)
        writer.add(reject_tag, at, scrap)
        writer.add(energy_tag, at, kwh)
        moment = at


def simulate_two_lines(conn: psycopg.Connection) -> Plant:
    """Write and derive the early shift of both lines; each line runs one order all day."""
    p = plant()
    derive.run_once(conn, p, now=t("04:00"))
    for index, line in enumerate(("line1", "line2"), start=1):
        order = orders.create_order(conn, f"P-{index}", line, "lager", 50_000, by="planner")
        orders.transition(conn, order["id"], "running", "anna", at=t("05:00"))
    writer = SampleWriter(conn)
    for line in ("line1", "line2"):
        _write_line(writer, line)
    reading, moment = 1000.0, t("05:00")
    while moment <= t("16:00"):
        writer.add("compressor_kwh", moment, reading)
        reading, moment = reading + UTILITY_KWH, moment + timedelta(minutes=1)
    writer.flush()
    assert derive.run_once(conn, p, now=t("16:05")).errors == []
    for line, at, ack, done in (("line1", "08:05", 4, 25), ("line2", "08:00", 6, 20)):
        call = andon.raise_call(conn, line, "material", "op", t(at))
        andon.acknowledge_call(conn, call["id"], "otto", t(at) + timedelta(minutes=ack))
        andon.resolve_call(conn, call["id"], "otto", t(at) + timedelta(minutes=done), "refilled")
    andon.raise_call(conn, "line2", "maintenance", "op", t("06:30"))
    return p
