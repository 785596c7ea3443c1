"""Alarm rules: the config names every mistake with file and line; each rule kind judges readings as the
plant engineer expects (fed straight into the engine: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.config import parse_plant
from collectors.errors import ConfigError
from collectors.pipeline import Pipeline
from collectors.samples import BAD_NO_COMMUNICATION, GOOD, Sample
from collectors.store import SampleStore
from mes.alarms.engine import AlarmEngine

BASE = """\
site: {name: Rules}
areas:
  - id: press
    lines:
      - id: line1
connections:
  - {id: plc, protocol: modbus, host: 127.0.0.1, port: 502}
tags:
  - {name: motor_1_temp, connection: plc, table: holding_register, address: 0, data_type: float32}
  - {name: motor_2_temp, connection: plc, table: holding_register, address: 2, data_type: float32}
  - {name: oven_temp_sp, connection: plc, table: holding_register, address: 4, data_type: float32}
  - {name: oven_temp, connection: plc, table: holding_register, address: 6, data_type: float32}
  - {name: pump_fault, connection: plc, table: holding_register, address: 8, data_type: uint16}
alarms:
  rules:
"""
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


def plant(rules: str):
    return parse_plant(BASE + rules, "plant.yaml")


def feed(engine: AlarmEngine, tag: str, readings: list[tuple[float, object]], status: int = GOOD) -> list[str]:
    changes = []
    for seconds, value in readings:
        sample = Sample(tag, T0 + timedelta(seconds=seconds), value, status)
        changes += [f"{c.kind}@{(c.at - T0).total_seconds():g}" for c in engine.evaluate([sample])]
    return changes


def test_check_names_file_line_and_field_of_each_mistake() -> None:
    with pytest.raises(ConfigError) as caught:
        plant("""\
    - {name: hot, tag: motor_9_temp, kind: high, limit: 90}
    - {name: roc, tags: "motor_*_temp", kind: rate_of_change}
    - {name: dev, tag: oven_temp, kind: deviation, limit: 5, setpoint_tag: oven_sp, area: paint}
    - {name: hot, tags: "pump_*", kind: digital, state: 1, priority: critical}
""")
    assert str(caught.value).splitlines() == [
        "plant.yaml:17: alarms.rules[1]: a rate_of_change rule needs a limit",
        "plant.yaml:19: alarms.rules[3].priority: Input should be 'low', 'medium', 'high' or 'urgent'",
    ]
    with pytest.raises(ConfigError) as caught:
        plant("""\
    - {name: hot, tag: motor_9_temp, kind: high, limit: 90}
    - {name: dev, tag: oven_temp, kind: deviation, limit: 5, setpoint_tag: oven_sp, area: paint, line: line9}
    - {name: hot, tags: "pump_*", kind: digital, state: 1}
    - {name: fans, tags: "fan_*", kind: bad_quality}
""")
    assert str(caught.value).splitlines() == [
        "plant.yaml:16: alarms.rules[0].tag: unknown tag 'motor_9_temp'",
        "plant.yaml:17: alarms.rules[1].setpoint_tag: unknown tag 'oven_sp'",
        "plant.yaml:17: alarms.rules[1].area: unknown area 'paint'",
        "plant.yaml:17: alarms.rules[1].line: unknown line 'line9'",
        "plant.yaml:18: alarms.rules[2].name: duplicate rule name 'hot' (first at alarms.rules[0])",
        "plant.yaml:19: alarms.rules[3].tags: the pattern 'fan_*' matches no tag",
    ]


def test_a_pattern_rule_applies_to_every_matching_tag() -> None:
    engine = AlarmEngine(plant('    - {name: hot, tags: "motor_*_temp", kind: high, limit: 90}\n'))
    assert sorted(c.key for c in engine.conditions) == [("hot", "motor_1_temp"), ("hot", "motor_2_temp")]
    assert feed(engine, "motor_2_temp", [(0, 80.0), (1, 95.0), (2, 80.0)]) == ["raised@1", "cleared@2"]


def test_rate_of_change_is_judged_per_minute_between_readings() -> None:
    engine = AlarmEngine(plant('    - {name: roc, tag: oven_temp, kind: rate_of_change, limit: 30, deadband: 6}\n'))
    # 0.4 °/s = 24 °/min: fine; 1 °/s = 60 °/min: alarm; 0.45 °/s = 27 °/min: inside the deadband; 0.3 °/s: clear
    assert feed(engine, "oven_temp", [(0, 100.0), (10, 104.0), (20, 114.0), (30, 118.5), (40, 121.5)]) == [
        "raised@20", "cleared@40"]


def test_deviation_compares_with_the_setpoint_tags_latest_reading() -> None:
    engine = AlarmEngine(plant("    - {name: dev, tag: oven_temp, kind: deviation, limit: 5, setpoint_tag: "
                               "oven_temp_sp}\n"))  # fmt: skip
    assert feed(engine, "oven_temp", [(0, 150.0)]) == [], "no setpoint yet: nothing to compare with"
    feed(engine, "oven_temp_sp", [(1, 180.0)])
    assert feed(engine, "oven_temp", [(2, 176.0), (3, 170.0)]) == ["raised@3"]
    feed(engine, "oven_temp_sp", [(4, 172.0)])  # the setpoint moved to the value
    assert feed(engine, "oven_temp", [(5, 170.0)]) == ["cleared@5"]


def test_digital_state_and_bad_quality() -> None:
    engine = AlarmEngine(plant("    - {name: fault, tag: pump_fault, kind: digital, state: 3}\n"
                               "    - {name: comm, tag: pump_fault, kind: bad_quality, on_delay: 5}\n"))  # fmt: skip
    assert feed(engine, "pump_fault", [(0, 1), (1, 3), (2, 3), (3, 0)]) == ["raised@1", "cleared@3"]
    assert feed(engine, "pump_fault", [(4, None)], BAD_NO_COMMUNICATION) == []
    assert feed(engine, "pump_fault", [(6, None)], BAD_NO_COMMUNICATION) == []
    assert [f"{c.kind}@{(c.at - T0).total_seconds():g}" for c in engine.due((T0 + timedelta(seconds=9)).timestamp())
            ] == ["raised@9"], "the on-delay runs out on the clock, without another reading"  # fmt: skip
    assert feed(engine, "pump_fault", [(10, 0)]) == ["cleared@10"]


def test_a_failing_listener_costs_the_pipeline_nothing(db_url: str, tmp_path) -> None:
    config = plant("    - {name: hot, tag: oven_temp, kind: high, limit: 90}\n")
    seen: list[int] = []
    pipeline = Pipeline(SampleStore.for_plant(config, db_url, spool_dir=tmp_path), config.tags,
                        report_by_exception=False)  # the sink alone: the batcher is not started
    pipeline.add_listener(lambda samples: 1 / 0)
    pipeline.add_listener(lambda samples: seen.append(len(samples)))
    pipeline.sink([Sample("oven_temp", datetime.now(UTC), 1.0)])
    assert seen == [1] and pipeline.queue_depth() == 1
