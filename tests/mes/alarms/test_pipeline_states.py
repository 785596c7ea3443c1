"""ISA-18.2 states, delays and deadbands judged on simulator tags read through the real collector pipeline
(Modbus → worker → pipeline listener → alarm evaluation → database), with people's actions in between."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.config.models import Plant
from mes.alarms import store
from mes.errors import Conflict
from simulator import Simulator
from tests.conftest import create_database, drop_database
from tests.mes.alarms.harness import RunningPlant

pytestmark = pytest.mark.plain_only("alarm logic on plain tables, the same on both flavours")


def alarm_plant(sim: Simulator) -> Plant:
    port = sim.modbus_port
    unit = {"connection": "plc", "unit_id": 10, "heartbeat": 0}
    return Plant.model_validate({
        "site": {"name": "Alarm test"},
        "areas": [{"id": "impregnation", "lines": [{"id": "curing", "bindings": {"state": {
            "tag": "state", "codes": {"running": [1], "changeover": [5], "planned_stop": [6], "idle": [7]}}}}]}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": port, "timeout": 0.3,
                         "poll_groups": [{"name": "default", "interval": 0.1}]}],
        "tags": [
            {"name": "state", "table": "holding_register", "address": 0, "data_type": "uint16", **unit},
            {"name": "temp", "table": "input_register", "address": 0, "data_type": "float32", **unit},
            {"name": "pressure", "table": "input_register", "address": 2, "data_type": "float32",
             "byte_order": "CDAB", **unit},
            {"name": "vacuum", "table": "input_register", "address": 4, "data_type": "uint16", **unit},
            {"name": "pressure_sp", "table": "holding_register", "address": 22, "data_type": "float32", **unit},
            {"name": "heater_enable", "table": "coil", "address": 0, "data_type": "bool", **unit},
            {"name": "door_closed", "table": "discrete_input", "address": 0, "data_type": "bool", **unit},
        ],
        "alarms": {"rules": [
            {"name": "temp_high", "tag": "temp", "kind": "high", "limit": 180, "deadband": 5, "on_delay": 0.6,
             "priority": "high", "area": "impregnation"},
            {"name": "temp_low", "tag": "temp", "kind": "low", "limit": 10, "off_delay": 0.8},
            {"name": "pressure_hh", "tag": "pressure", "kind": "high_high", "limit": 10, "priority": "urgent"},
            {"name": "pressure_sp_latched", "tag": "pressure_sp", "kind": "high", "limit": 11, "latched": True},
            {"name": "vacuum_shelf", "tag": "vacuum", "kind": "high", "limit": 1050},
            {"name": "vacuum_oos", "tag": "vacuum", "kind": "high", "limit": 1060},
            {"name": "heater_off", "tag": "heater_enable", "kind": "digital", "state": False, "line": "curing"},
            {"name": "door_comm", "tag": "door_closed", "kind": "bad_quality", "priority": "low"},
        ]},
    })  # fmt: skip


@pytest.fixture(scope="module")
def running(pg_server, template_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlant]:
    url = create_database(pg_server, "alarms", template_name)
    running = RunningPlant(alarm_plant, url, tmp_path_factory.mktemp("spool"))
    try:
        running.start_collecting()
        yield running
    finally:
        running.close()
        drop_database(pg_server, url)


def act(running: RunningPlant, fn, *args) -> dict:
    with psycopg.connect(running.database_url) as conn, conn.transaction():
        return fn(conn, *args)


def now() -> datetime:
    return datetime.now(UTC)


def transitions(running: RunningPlant, occurrence_id: int) -> list[tuple[str, str | None, str, str]]:
    return [(e["transition"], e["from_state"], e["to_state"], e["by_user"])
            for e in running.query("SELECT * FROM alarm_events WHERE occurrence_id = %s ORDER BY id",
                                   (occurrence_id,))]  # fmt: skip


def test_a_high_alarm_waits_for_its_on_delay_and_clears_only_below_the_deadband(running: RunningPlant) -> None:
    forced_at = now()
    running.force("Temperature", 185.0)
    time.sleep(0.35)
    assert running.occurrences("temp_high") == [], "raised before its 0.6 s on-delay"
    [raised] = running.wait_states("temp_high", ["unacknowledged"])
    assert raised["raised_at"] >= forced_at + timedelta(seconds=0.6)
    assert raised["value"] == 185.0 and raised["threshold"] == 180.0 and raised["annunciated_at"] is not None
    running.force("Temperature", 177.0)  # below the limit, inside the 5° deadband: still active
    time.sleep(0.5)
    assert running.states("temp_high") == ["unacknowledged"]
    running.force("Temperature", 170.0)
    [returned] = running.wait_states("temp_high", ["returned_unacknowledged"])
    assert returned["active"] is False and returned["cleared_at"] is not None and returned["ended_at"] is None
    act(running, store.acknowledge, returned["id"], "olga", now(), "seen it")
    [over] = running.occurrences("temp_high")
    assert over["state"] == "normal" and over["ended_at"] is not None and over["acknowledged_by"] == "olga"
    assert transitions(running, over["id"]) == [
        ("raised", None, "unacknowledged", "system"),
        ("cleared", "unacknowledged", "returned_unacknowledged", "system"),
        ("acknowledged", "returned_unacknowledged", "normal", "olga"),
    ]


def test_a_low_alarm_holds_for_its_off_delay(running: RunningPlant) -> None:
    running.force("Temperature", 5.0)
    [raised] = running.wait_states("temp_low", ["unacknowledged"])
    act(running, store.acknowledge, raised["id"], "olga", now())
    assert running.states("temp_low") == ["acknowledged"]
    back_at = now()
    running.force("Temperature", 20.0)
    time.sleep(0.5)
    assert running.states("temp_low") == ["acknowledged"], "cleared before its 0.8 s off-delay"
    [over] = running.wait_states("temp_low", ["normal"])
    assert over["cleared_at"] >= back_at + timedelta(seconds=0.8)
    assert [t[0] for t in transitions(running, over["id"])] == ["raised", "acknowledged", "cleared"]


def test_a_cleared_alarm_that_comes_back_is_a_new_occurrence(running: RunningPlant) -> None:
    running.force("Pressure", 12.0)
    [first] = running.wait_states("pressure_hh", ["unacknowledged"])
    act(running, store.acknowledge, first["id"], "olga", now())
    with pytest.raises(Conflict, match="acknowledged"):
        act(running, store.acknowledge, first["id"], "olga", now())
    running.force("Pressure", 1.0)
    running.wait_states("pressure_hh", ["normal"])
    running.force("Pressure", 12.5)
    occurrences = running.wait_states("pressure_hh", ["normal", "unacknowledged"])
    assert occurrences[1]["value"] == 12.5 and occurrences[1]["priority"] == "urgent"
    running.force("Pressure", 1.0)
    running.wait_states("pressure_hh", ["normal", "returned_unacknowledged"])


def test_a_latched_alarm_stays_until_it_is_reset(running: RunningPlant) -> None:
    running.force("PressureSetpoint", 11.5)
    [raised] = running.wait_states("pressure_sp_latched", ["unacknowledged"])
    with pytest.raises(Conflict, match="only a latched alarm"):
        act(running, store.reset, raised["id"], "olga", now())
    running.force("PressureSetpoint", 6.0)
    running.wait_states("pressure_sp_latched", ["latched"])
    act(running, store.acknowledge, raised["id"], "olga", now())
    [latched] = running.occurrences("pressure_sp_latched")
    assert latched["state"] == "latched" and latched["acknowledged"] and latched["ended_at"] is None
    act(running, store.reset, raised["id"], "olga", now(), "valve checked")
    assert running.states("pressure_sp_latched") == ["normal"]
    assert [t[0] for t in transitions(running, raised["id"])] == ["raised", "cleared", "acknowledged", "reset"]


def test_a_shelved_alarm_is_hidden_until_its_shelving_expires(running: RunningPlant) -> None:
    running.force("Vacuum", 1080)
    [raised] = running.wait_states("vacuum_shelf", ["unacknowledged"])
    point = running.point_id("vacuum_shelf")
    with pytest.raises(Exception, match="say why"):
        act(running, store.shelve, point, "olga", now(), now() + timedelta(seconds=1.5), " ")
    act(running, store.shelve, point, "olga", now(), now() + timedelta(seconds=1.5), "sensor being cleaned")
    assert running.states("vacuum_shelf") == ["shelved"]
    [shown] = running.wait_states("vacuum_shelf", ["unacknowledged"], timeout=5)
    assert shown["id"] == raised["id"]
    assert running.query("SELECT mode FROM alarm_points WHERE id = %s", (point,))[0]["mode"] == "in_service"
    assert [(t[0], t[3]) for t in transitions(running, raised["id"])] == [
        ("raised", "system"), ("shelved", "olga"), ("shelved_ended", "system")]


def test_an_alarm_out_of_service_raises_hidden_and_shows_when_it_returns(running: RunningPlant) -> None:
    running.wait_states("vacuum_oos", ["unacknowledged"])  # vacuum is still 1080
    point = running.point_id("vacuum_oos")
    act(running, store.remove_from_service, point, "max", now(), "transmitter replaced")
    assert running.states("vacuum_oos") == ["out_of_service"]
    running.force("Vacuum", 1000)
    running.wait_states("vacuum_oos", ["normal"])
    running.force("Vacuum", 1090)
    hidden = running.wait_states("vacuum_oos", ["normal", "out_of_service"])
    assert hidden[1]["annunciated_at"] is None
    act(running, store.return_to_service, point, "max", now())
    shown = running.occurrences("vacuum_oos")
    assert shown[1]["state"] == "unacknowledged" and shown[1]["annunciated_at"] is not None
    running.force("Vacuum", 1000)


def test_an_alarm_is_suppressed_by_design_while_its_line_is_in_planned_stop(running: RunningPlant) -> None:
    running.force("State", 6)
    running.wait_for(lambda: running.query("SELECT mode FROM alarm_points WHERE rule = 'heater_off'")[0]["mode"]
                     == "suppressed")  # fmt: skip
    running.force("HeaterEnable", False)
    [hidden] = running.wait_states("heater_off", ["suppressed"])
    assert hidden["annunciated_at"] is None
    running.force("State", 1)
    [shown] = running.wait_states("heater_off", ["unacknowledged"])
    assert shown["id"] == hidden["id"] and shown["annunciated_at"] is not None
    running.force("HeaterEnable", True)
    running.wait_states("heater_off", ["returned_unacknowledged"])


def test_lost_communication_raises_a_bad_quality_alarm(running: RunningPlant) -> None:
    running.sim.stop_answering("modbus", 10)
    try:
        running.wait_states("door_comm", ["unacknowledged"])
    finally:
        running.sim.clear_faults()
    running.wait_states("door_comm", ["returned_unacknowledged"], timeout=15)


def test_an_alarm_active_before_a_restart_is_still_active_after_it_and_not_raised_twice(
        running: RunningPlant) -> None:  # fmt: skip
    running.force("Temperature", 190.0)
    [before] = running.wait_states("temp_high", ["normal", "unacknowledged"])[1:]
    running.stop_collecting()
    running.start_collecting()
    assert running.evaluation is not None
    running.wait_for(lambda: running.service and running.service.pipeline
                     and running.service.pipeline.stats.samples_in > 50)  # fmt: skip
    time.sleep(0.3)
    after = running.occurrences("temp_high")
    assert [o["state"] for o in after] == ["normal", "unacknowledged"] and after[1]["id"] == before["id"]
    events = running.query("SELECT count(*) AS n FROM alarm_events WHERE occurrence_id = %s", (before["id"],))
    assert events[0]["n"] == 1
    running.force("Temperature", 20.0)
    assert running.wait_states("temp_high", ["normal", "returned_unacknowledged"])[1]["id"] == before["id"]
