"""Line root cause: which machine's own stop cost the constraint its time.

The hand-computed example of docs/mes.md: washer -> filler (constraint) -> labeller ->
packer, one hour 07:00-08:00, every machine with its own state and fault-code tags.
Expected minutes are counted off the timeline below by hand, not with the code's rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
import yaml

from collectors.config import parse_plant
from collectors.config.models import Plant
from collectors.errors import ConfigError
from collectors.samples import BAD_COMMUNICATION_ERROR
from mes.production import derive, root_cause
from tests.mes.production.scenario import SampleWriter, local

RUN, STARVED, BLOCKED, FAULT = 1, 2, 3, 4
MACHINES = ("washer", "filler", "labeller", "packer")
CODES = {"running": [RUN], "starved": [STARVED], "blocked": [BLOCKED], "fault": [FAULT]}


def line_plant(**line: object) -> Plant:
    """Four machines in a row, the filler the constraint; the line's own state is the filler's."""
    equipment = [{"id": m, "bindings": {"state": {"tag": f"{m}_state", "fault_code_tag": f"{m}_fault",
                                                  "codes": CODES}}} for m in MACHINES]  # fmt: skip
    doc = {
        "site": {"name": "Root cause brewery", "timezone": "Europe/Berlin"},
        "areas": [{"id": "packaging", "lines": [{
            "id": "line1", "shift_pattern": "day", "state_stale_after": 7200, "constraint": "filler",
            "bindings": {"state": {"tag": "filler_state", "fault_code_tag": "filler_fault", "codes": CODES}},
            "equipment": equipment, **line,
            "downtime_reasons": [
                {"code": "washer_drive", "name": "Washer drive", "category": "Electrical", "fault_codes": [201]},
                {"code": "label_jam", "name": "Label jam", "category": "Jams", "fault_codes": [305]},
            ]}]}],
        "connections": [{"id": "plc", "protocol": "modbus", "host": "127.0.0.1", "port": 5020,
                         "poll_groups": [{"name": "default", "interval": 1}]}],
        "tags": [{"name": f"{m}_{kind}", "connection": "plc", "table": "holding_register", "address": 2 * i + k,
                  "data_type": "uint16"}
                 for i, m in enumerate(MACHINES) for k, kind in enumerate(("state", "fault"))],
        "products": [{"id": "lager", "ideal_cycle_time": {"line1": 0.1}}],
        "shift_patterns": [{"id": "day", "shifts": [{"name": "early", "start": "06:00", "end": "14:00"}]}],
    }  # fmt: skip
    return parse_plant(yaml.safe_dump(doc, sort_keys=False))


T0 = local("2026-03-05", "07:00")


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


# (minute, state code, fault code) per machine; a fault code of None leaves the fault tag alone.
TIMELINE = {
    "washer": [(0, RUN, 0), (10, FAULT, 201), (16, RUN, 0), (50, None, None), (55, RUN, 0)],
    "filler": [(0, RUN, 0), (12, STARVED, 0), (16, RUN, 0), (22, BLOCKED, 0), (30, RUN, 0), (37, BLOCKED, 0),
               (40, RUN, 0), (45, FAULT, 102), (48, RUN, 0), (51, STARVED, 0), (53, RUN, 0)],
    "labeller": [(0, RUN, 0), (13, STARVED, 0), (17, RUN, 0), (20, FAULT, 305), (30, RUN, 0), (36, BLOCKED, 0),
                 (40, RUN, 0)],
    "packer": [(0, RUN, 0), (35, FAULT, 401), (40, RUN, 0)],
}


def write_hour(conn: psycopg.Connection) -> None:
    writer = SampleWriter(conn)
    for machine, changes in TIMELINE.items():
        for minute, state, fault in changes:
            if state is None:  # the washer's PLC is unreachable 07:50-07:55
                writer.add(f"{machine}_state", at(minute), None, BAD_COMMUNICATION_ERROR)
                continue
            writer.add(f"{machine}_state", at(minute), state)
            writer.add(f"{machine}_fault", at(minute), fault)
        writer.add(f"{machine}_state", at(60), changes[-1][1])
    writer.flush()


@pytest.fixture
def derived(db: psycopg.Connection) -> psycopg.Connection:
    plant = line_plant()
    derive.run_once(db, plant, now=at(-60))
    write_hour(db)
    derive.run_once(db, plant, now=at(60))
    return db


def test_hand_computed_hour_of_four_machines(derived: psycopg.Connection) -> None:
    # The filler stands 20 minutes; by hand, along the timeline:
    #  07:12-07:16 filler starved; washer (upstream) in fault 201 since 07:10      -> washer 201, 4 min
    #  07:22-07:30 filler blocked; labeller (downstream) in fault 305 since 07:20  -> labeller 305, 8 min
    #  07:37-07:40 filler blocked; labeller blocked too; packer in fault 401       -> packer 401, 3 min
    #  07:45-07:48 filler in its own fault 102                                     -> filler 102, 3 min
    #  07:51-07:53 filler starved; washer has no data (bad quality 07:50-07:55)     -> unknown, 2 min
    by_fault = {(r["machine"], r["fault_code"]): r["seconds"] / 60 for r in
                root_cause.pareto(derived, "line1", at(0), at(60), by="fault")}  # fmt: skip
    assert by_fault == {("washer", 201): 4, ("labeller", 305): 8, ("packer", 401): 3, ("filler", 102): 3,
                        (None, None): 2}
    by_machine = root_cause.pareto(derived, "line1", at(0), at(60), by="machine")
    assert [(r["machine"], r["seconds"] / 60) for r in by_machine] == [
        ("labeller", 8), ("washer", 4), ("filler", 3), ("packer", 3), (None, 2)]
    assert sum(r["share"] for r in by_machine) == pytest.approx(1.0)
    assert by_machine[0]["share"] == pytest.approx(8 / 20)


def test_each_stop_names_its_rule_and_the_unknown_its_reason(derived: psycopg.Connection) -> None:
    found = [(r["start"], r["end"], r["constraint_state"], r["machine"], r["rule"], r["unknown_reason"])
             for r in root_cause.attributions(derived, "line1", at(0), at(60))]  # fmt: skip
    assert found == [
        (at(12), at(16), "starved", "washer", "upstream", None),
        (at(22), at(30), "blocked", "labeller", "downstream", None),
        (at(37), at(40), "blocked", "packer", "downstream", None),
        (at(45), at(48), "fault", "filler", "own", None),
        (at(51), at(53), "starved", None, "unknown", "no data from washer"),
    ]


def test_a_window_cuts_the_attribution(derived: psycopg.Connection) -> None:
    # 07:25-07:38: 5 min of the labeller's 8, 1 min of the packer's 3.
    rows = root_cause.pareto(derived, "line1", at(25), at(38), by="machine")
    assert [(r["machine"], r["seconds"] / 60) for r in rows] == [("labeller", 5), ("packer", 1)]


def test_the_supervisor_reason_is_prefilled_from_the_root_cause(derived: psycopg.Connection) -> None:
    event = derived.execute(
        "SELECT id FROM downtime_events WHERE equipment_id = 'line1' AND lower(period) = %s", (at(22),)).fetchone()
    suggestion = root_cause.suggested_reason(derived, event[0])
    assert suggestion == {"machine": "labeller", "fault_code": 305, "reason_code": "label_jam", "seconds": 480.0}


def test_rederiving_gives_the_same_attribution(derived: psycopg.Connection) -> None:
    before = root_cause.attributions(derived, "line1", at(0), at(60))
    derive.rederive(derived, line_plant(), "line1.packer", at(20), now=at(60))
    assert root_cause.attributions(derived, "line1", at(0), at(60)) == before


def test_a_line_without_a_constraint_keeps_working_unchanged(db: psycopg.Connection) -> None:
    plant = line_plant(constraint=None)
    derive.run_once(db, plant, now=at(-60))
    write_hour(db)
    report = derive.run_once(db, plant, now=at(60))
    assert not report.errors
    assert root_cause.attributions(db, "line1", at(0), at(60)) == []


def test_a_constraint_that_is_not_a_machine_of_the_line_is_named() -> None:
    with pytest.raises(ConfigError, match=r"constraint.*unknown equipment 'capper'"):
        line_plant(constraint="capper")
    with pytest.raises(ConfigError, match=r"flow.*unknown equipment 'depal'"):
        line_plant(flow=["depal", "washer", "filler"])


def test_api_pareto_intervals_machine_kpis_and_suggestion(derived: psycopg.Connection, db_url: str) -> None:
    from fastapi.testclient import TestClient

    from mes.api import create_app
    from tests.mes.auth.helpers import add_user, sign_in

    add_user(derived, "ann", "supervisor")
    window = {"from": at(0).isoformat(), "to": at(60).isoformat()}
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        assert sign_in(client, "ann").status_code == 303
        order = client.post("/api/orders", json={"number": "W-1", "line_id": "line1", "product_id": "lager",
                                                 "planned_quantity": 500}).json()  # fmt: skip
        assert client.post(f"/api/orders/{order['id']}/start", json={"at": at(0).isoformat()}).status_code == 200
        faults = client.get("/api/lines/line1/root-cause", params={**window, "by": "fault"}).json()
        assert [(r["machine"], r["fault_code"], r["seconds"]) for r in faults][:2] == [
            ("labeller", 305, 480.0), ("washer", 201, 240.0)]
        stretches = client.get("/api/lines/line1/root-cause/intervals", params=window).json()
        assert stretches[-1]["unknown_code"] == "no_data" and stretches[-1]["machine"] is None
        assert client.get("/api/lines/line1/root-cause", params={**window, "by": "shift"}).status_code == 422
        rows = {r["machine"]: r for r in client.get("/api/lines/line1/machines/kpi", params=window).json()}
        # By hand, with the order running all hour: the washer runs 49 min, stops once for 6 min
        # (fault 201) and has 5 min without data (outside PBT): availability 49/55, MTBF 49 min,
        # MTTR 6 min. The filler runs 40 min and stops 5 times for 20 min: 40/60, 8 min, 4 min.
        washer, filler = rows["washer"], rows["filler"]
        assert washer["availability"] == pytest.approx(49 / 55) and washer["no_data_time"] == 300
        assert (washer["mtbf"], washer["mttr"]) == (pytest.approx(49 * 60), pytest.approx(6 * 60))
        assert filler["availability"] == pytest.approx(40 / 60) and filler["is_constraint"]
        assert (filler["mtbf"], filler["mttr"]) == (pytest.approx(8 * 60), pytest.approx(4 * 60))
        assert rows[None]["availability"] == pytest.approx(40 / 60)  # the line's own row: the filler's state
        event = derived.execute("SELECT id FROM downtime_events WHERE equipment_id = 'line1' "
                                "AND lower(period) = %s", (at(12),)).fetchone()  # fmt: skip
        hint = client.get(f"/api/downtime/{event[0]}/root-cause").json()
        assert hint == {"machine": "washer", "fault_code": 201, "reason_code": "washer_drive", "seconds": 240.0}


def test_cli_prints_the_pareto_by_fault_and_the_machines(derived: psycopg.Connection, db_url: str) -> None:
    from typer.testing import CliRunner

    from mes.cli import app

    window = ["--from", "2026-03-05T07:00", "--to", "2026-03-05T08:00"]  # plant time
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["root-cause", "--line", "line1", *window, "--by", "fault", "--machines", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.replace("│", " ").split()) for line in result.output.splitlines()]
    assert "labeller 305 8.0 40.0%" in lines and "unknown — 2.0 10.0%" in lines
    assert any(line.startswith("filler *") for line in lines)
    bad = CliRunner().invoke(app, ["root-cause", "--line", "nope", *window, "--database-url", db_url])
    assert bad.exit_code != 0 and "nope" in bad.output


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_the_oee_page_shows_which_machine_stopped_the_line(derived: psycopg.Connection, db_url: str,
                                                           lang: str) -> None:
    from fastapi.testclient import TestClient

    from mes.api import create_app
    from tests.mes.auth.helpers import add_user, sign_in

    add_user(derived, "mia", "manager")
    query = {"line": "line1", "period": "day", "day": "2026-03-05", "lang": lang}
    with TestClient(create_app(db_url), base_url="http://localhost") as client:
        assert sign_in(client, "mia").status_code == 303
        page = client.get("/oee", params=query)
        assert page.status_code == 200
        heading = {"en": "Which machine stopped the line", "zh_CN": "哪台设备让产线停了"}[lang]
        section = page.text.split('id="root-cause"')[1]
        assert heading in section and "labeller" in section and "305" in section
        assert section.index("labeller") < section.index("washer")  # largest first
        download = client.get("/oee/rootcause.csv", params=query)
        assert download.status_code == 200 and "labeller" in download.text and "480" in download.text
