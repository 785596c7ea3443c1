"""Request planner: fewest requests, never over the cap, fences and workarounds honoured."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from collectors.config.models import ModbusConnection, Tag
from collectors.drivers.modbus.planner import plan_requests

REPO = Path(__file__).resolve().parents[4]


def conn(**extra: Any) -> ModbusConnection:
    workarounds = extra.pop("workarounds", {})
    return ModbusConnection.model_validate(
        {"id": "c", "protocol": "modbus", "host": "h", "workarounds": workarounds, **extra}
    )


def tag(address: int, data_type: str = "uint16", table: str = "holding_register", unit: int = 1,
        group: str = "default", **extra: Any) -> Tag:
    return Tag.model_validate({"name": f"t{unit}_{table[0]}_{address}_{group}", "connection": "c", "unit_id": unit,
                               "table": table, "address": address, "data_type": data_type, "group": group, **extra})


def spans(requests: list) -> list[tuple[int, int]]:
    return [(r.address, r.count) for r in requests]


def test_gaps_up_to_max_gap_merge_and_larger_gaps_split() -> None:
    tags = [tag(0), tag(11), tag(30, "float32")]
    assert spans(plan_requests(conn(max_gap=10), tags)) == [(0, 12), (30, 2)]
    assert spans(plan_requests(conn(max_gap=18), tags)) == [(0, 32)]
    assert spans(plan_requests(conn(max_gap=0), [tag(0), tag(1), tag(3)])) == [(0, 2), (3, 1)]


def test_the_device_cap_and_wide_tags() -> None:
    tags = [tag(a) for a in range(300)]
    assert spans(plan_requests(conn(), tags)) == [(0, 125), (125, 125), (250, 50)]
    assert [r.count for r in plan_requests(conn(max_registers_per_request=40), tags)] == [40] * 7 + [20]
    # A float64 that would cross the cap starts a new request instead of being cut.
    wide = [tag(0), tag(122, "float64")]
    assert spans(plan_requests(conn(), wide)) == [(0, 1), (122, 4)]


def test_bits_are_capped_at_2000_and_grouped_apart_from_registers() -> None:
    coils = [tag(a, "bool", "coil") for a in range(0, 4500, 3)]
    requests = plan_requests(conn(), [*coils, tag(0), tag(1, table="input_register")])
    by_fc: dict[int, list[int]] = {}
    for r in requests:
        by_fc.setdefault(r.function_code, []).append(r.count)
    assert all(count <= 2000 for count in by_fc[1])
    assert sum(len(r.tags) for r in requests if r.function_code == 1) == len(coils)
    assert set(by_fc) == {1, 3, 4}


def test_units_and_poll_groups_never_share_a_request() -> None:
    tags = [tag(0, unit=1), tag(1, unit=2), tag(2, unit=1, group="slow")]
    requests = plan_requests(conn(), tags)
    assert sorted((r.group, r.unit_id, r.address) for r in requests) == [
        ("default", 1, 0), ("default", 2, 1), ("slow", 1, 2)
    ]


def test_one_request_per_field_fences_every_tag() -> None:
    tags = [tag(0), tag(1), tag(2, "float32")]
    requests = plan_requests(conn(workarounds={"one_request_per_field": True}), tags)
    assert spans(requests) == [(0, 1), (1, 1), (2, 2)]


def test_coils_starting_at_zero() -> None:
    coils = [tag(10, "bool", "coil"), tag(40, "bool", "coil"), tag(3000, "bool", "coil")]
    requests = plan_requests(conn(max_gap=5, workarounds={"read_coils_starting_at_zero": True}), coils)
    assert spans(requests) == [(0, 41), (3000, 1)]
    assert [t.address for t in requests[0].tags] == [10, 40]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(["uint16", "float32", "float64", "bit"])),
             min_size=1, max_size=120),
    st.integers(0, 30),
    st.integers(4, 125),
)
def test_every_tag_is_covered_by_exactly_one_request_within_the_cap(
    specs: list[tuple[int, str]], max_gap: int, cap: int
) -> None:
    tags = [Tag.model_validate({"name": f"t{i}", "connection": "c", "table": "holding_register", "address": a,
                                "data_type": dt, "bit": 0 if dt == "bit" else None}) for i, (a, dt) in enumerate(specs)]
    requests = plan_requests(conn(max_gap=max_gap, max_registers_per_request=cap), tags)
    seen = [t.name for r in requests for t in r.tags]
    assert sorted(seen) == sorted(t.name for t in tags)
    for r in requests:
        assert r.count <= cap
        for t in r.tags:
            assert r.address <= t.address and t.address + t.register_count <= r.end


def test_planning_100k_tags_is_fast() -> None:
    tags = [Tag(name=f"t{i}", connection="c", unit_id=1 + i % 4, table="holding_register", address=(i * 7) % 65000)
            for i in range(100_000)]
    started = time.perf_counter()
    requests = plan_requests(conn(), tags)
    assert time.perf_counter() - started < 3.0
    assert sum(len(r.tags) for r in requests) == 100_000


def test_linebrain_plan_prints_the_modbus_requests() -> None:
    from mes.cli import app

    result = CliRunner().invoke(app, ["plan", str(REPO / "tests" / "collectors" / "config" / "valid_plant.yaml")])
    assert result.exit_code == 0, result.output
    assert "requests per cycle" in result.output


def test_the_sample_config_loads_and_plans() -> None:
    from collectors.config import load_plant
    from collectors.plan import plant_plan

    plant = load_plant(REPO / "collectors" / "drivers" / "modbus" / "sample.yaml")
    requests = {plan.connection.id: len(plan.modbus_requests) for plan in plant_plan(plant)}
    assert requests == {"filler_plc": 6, "meters": 3, "drives": 2}
