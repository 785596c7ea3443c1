"""Condition monitoring in a time-accelerated run: 50 simulated days of the motor fleet in about ten seconds,
read over OPC UA (source timestamps carry simulated time) through the collector pipeline into the alarm
evaluation. A wearing motor raises "maintenance due" with its forecast at least the lead time before it
reaches zone D (the simulator's ground truth); a healthy motor raises nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from collectors.config.models import Plant
from simulator import Simulator, SimulatorOptions
from simulator.motors import FLEET, MotorFleet
from tests.conftest import create_database, drop_database
from tests.mes.alarms.harness import RunningPlant

DAYS = 50
WALL_SECONDS = 10
LEAD_DAYS = 7
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS)

pytestmark = pytest.mark.plain_only("alarm logic on plain tables, the same on both flavours")


def fleet_plant(sim: Simulator) -> Plant:
    tags, assets = [], []
    for spec in FLEET:
        name = spec.name.lower()
        for signal, point in (("vibration", "VibrationVelocity"), ("bearing_temp", "BearingTemperature"),
                              ("torque", "Torque")):
            tags.append({"name": f"{name}_{signal}", "connection": "fleet", "mode": "subscribe",
                         "node_id": f"ns={sim.opcua_namespace};s=PaintShop.Motors.{spec.name}.{point}"})
        assets.append({"id": name, "name": f"Paint shop motor {spec.name}", "vibration_tag": f"{name}_vibration",
                       "temperature_tag": f"{name}_bearing_temp", "torque_tag": f"{name}_torque",
                       "group": spec.group, "foundation": spec.foundation, "lead_time_days": LEAD_DAYS,
                       "area": "paint"})
    return Plant.model_validate({
        "site": {"name": "Paint shop"},
        "areas": [{"id": "paint"}],
        "connections": [{"id": "fleet", "protocol": "opcua", "endpoint": sim.opcua_endpoint,
                         "subscriptions": [{"name": "default", "publishing_interval": 0.05,
                                            "sampling_interval": 0.02}]}],
        "tags": tags,
        "alarms": {"condition_monitoring": {"assets": assets, "trend_window_days": 7, "bucket_minutes": 60}},
    })  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(pg_server, template_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlant]:
    url = create_database(pg_server, "motors", template_name)
    options = SimulatorOptions(scenario="motors", seed=5, speed=0, start=START, modbus_port=None, tick=0.025)
    running = RunningPlant(fleet_plant, url, tmp_path_factory.mktemp("spool"), options)
    try:
        running.start_collecting()
        assert running.evaluation is not None
        running.wait_for(lambda: running.evaluation.engine.monitors["m04_vibration"][0].bucket)  # subscribed
        running.sim.clock.set_speed(DAYS * 86400 / WALL_SECONDS)
        running.wait_for(lambda: running.sim.now >= START + timedelta(days=DAYS - 0.5), timeout=WALL_SECONDS + 20)
        running.call(running.sim.pause())
        time.sleep(0.5)
        running.stop_collecting()
        yield running
    finally:
        running.close()
        drop_database(pg_server, url)


def model(running: RunningPlant) -> MotorFleet:
    return running.sim.models["motors"]  # type: ignore[return-value]


@pytest.mark.parametrize("spec", [s for s in FLEET if s.onset_days is not None], ids=lambda s: s.name)
def test_a_wearing_motor_raises_maintenance_due_at_least_the_lead_time_before_zone_d(finished_run, spec) -> None:
    reaches_d = START + timedelta(seconds=model(finished_run).time_to_reach(spec.name, spec.zone_d))
    assert reaches_d < START + timedelta(days=DAYS), "the run must cover the crossing"
    name = spec.name.lower()
    [due, *_] = finished_run.occurrences(f"{name}_maintenance_due")
    assert due["raised_at"] <= reaches_d - timedelta(days=LEAD_DAYS), (
        f"raised {reaches_d - due['raised_at']} before zone D, less than the {LEAD_DAYS}-day lead time")
    [forecast] = finished_run.query("SELECT * FROM condition_forecasts WHERE asset = %s AND at = %s",
                                    (name, due["raised_at"]))  # fmt: skip
    assert forecast["eta_d"] is not None and forecast["model"] in ("linear", "exponential")
    assert abs(forecast["eta_d"] - reaches_d) < timedelta(days=LEAD_DAYS), "the forecast is near the truth"
    [order] = finished_run.query("SELECT * FROM maintenance_orders WHERE occurrence_id = %s", (due["id"],))
    assert order["asset"] == name and order["kind"] == "predictive" and order["forecast_d_at"] == forecast["eta_d"]
    assert order["closed_at"] is None
    trip = finished_run.occurrences(f"{name}_vibration_trip")
    assert trip and trip[0]["raised_at"] >= due["raised_at"]


@pytest.mark.parametrize("spec", [s for s in FLEET if s.onset_days is None], ids=lambda s: s.name)
def test_a_healthy_motor_raises_nothing(finished_run, spec) -> None:
    name = spec.name.lower()
    raised = finished_run.query("SELECT p.rule FROM alarm_occurrences o JOIN alarm_points p ON p.id = o.point_id "
                                "WHERE p.rule LIKE %s", (f"{name}\\_%",))  # fmt: skip
    assert raised == []
    forecasts = finished_run.query("SELECT count(*) AS n, count(eta_d) AS with_eta, max(zone) AS worst "
                                   "FROM condition_forecasts WHERE asset = %s", (name,))[0]  # fmt: skip
    assert forecasts["n"] > 20 and forecasts["worst"] <= "B"


def test_mtbf_and_mttr_count_overlapping_failures_once(db) -> None:
    from mes.alarms import maintenance

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    for start, end in ((10, 12), (11, 14), (100, 101)):  # the first two overlap: one failure 10:00–14:00
        order = maintenance.open_order(db, "m09", "breakdown", "bearing seized", "max", t0 + start * hour)
        maintenance.close_order(db, order["id"], "max", t0 + end * hour, "bearing replaced", failure=True)
    planned = maintenance.open_order(db, "m09", "preventive", "grease", "max", t0 + 50 * hour)
    maintenance.close_order(db, planned["id"], "max", t0 + 51 * hour, "greased")  # not a failure
    result = maintenance.reliability(db, "m09", None, t0, t0 + 200 * hour)
    # by hand: 2 failures, 4 h + 1 h down; (200 − 5) h up / 2 = 97.5 h; 5 h / 2 = 2.5 h
    assert (result.failures, result.downtime_hours, result.mtbf_hours, result.mttr_hours) == (2, 5.0, 97.5, 2.5)
    with pytest.raises(Exception, match="repair"):
        maintenance.close_order(db, planned["id"], "max", t0 + 52 * hour, " ")
