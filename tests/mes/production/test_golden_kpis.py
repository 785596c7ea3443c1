"""Golden test: one production day of a bottling line, hand-built sample by sample, with
every KPI checked against the ISO 22400-2 formula applied to the scenario's durations.

The day (Europe/Berlin, shifts early 06-14 with a 10:00 30 min break, late 14-22):
order A (lager, PRU 0.5 s) 06:00-15:00 spans both shifts; order B (pils, PRU 0.4 s)
15:00-21:30. It has a 20 s micro-stop, a jam that is auto-assigned and then
reclassified as cleaning (setup), a fault with the break inside it, a 5 min gap in
data, a changeover, an idle period in an order and one without an order, a 16-bit
wrap of the good counter, a counter reset mid-order, bad-quality counter samples,
and manual count corrections.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from mes.production import derive, downtime, kpi, orders
from mes.production.counts import adjust_count
from tests.mes.production.scenario import (
    CHANGEOVER,
    FAULT,
    IDLE,
    JAM,
    RUNNING,
    SampleWriter,
    local,
    plant,
    state_series,
)

DAY = "2026-03-02"
H, M = 3600.0, 60.0
GOOD_PER_MIN, REJECT_PER_MIN = 100, 2
GOOD_START = 65_000  # wraps 16 bits a few minutes in
RESET_AT = "09:00"


def t(clock: str) -> datetime:
    return local(DAY, clock)


def seconds(a: str, b: str) -> float:
    return (t(b) - t(a)).total_seconds()


OBSERVED = [  # what the state tag shows
    ("06:00:00", "07:00:00", RUNNING),
    ("07:00:00", "07:00:20", FAULT),  # micro-stop
    ("07:00:20", "08:00:00", RUNNING),
    ("08:00:00", "08:10:00", JAM),  # auto reason 'jam', reclassified to 'cleaning'
    ("08:10:00", "09:50:00", RUNNING),
    ("09:50:00", "10:40:00", FAULT),  # the 10:00-10:30 break is inside
    ("10:40:00", "12:00:00", RUNNING),
    ("12:00:00", "12:05:00", None),  # gap in data (the line really ran)
    ("12:05:00", "13:30:00", RUNNING),
    ("13:30:00", "13:50:00", CHANGEOVER),
    ("13:50:00", "14:30:00", RUNNING),
    ("14:30:00", "14:45:00", IDLE),
    ("14:45:00", "20:00:00", RUNNING),
    ("20:00:00", "20:30:00", JAM),
    ("20:30:00", "21:30:00", RUNNING),
    ("21:30:00", "22:00:00", IDLE),  # no order
]


def true_running_seconds(minute_start: datetime) -> float:
    """Seconds the line really ran in one minute (the gap counts as running: it did)."""
    end = minute_start + timedelta(minutes=1)
    total = 0.0
    for a, b, code in OBSERVED:
        if code in (RUNNING, None):
            lo, hi = max(t(a), minute_start), min(t(b), end)
            total += max((hi - lo).total_seconds(), 0.0)
    return total


def minutes() -> list[datetime]:
    return [t("06:00:00") + timedelta(minutes=i) for i in range(16 * 60)]


def increments() -> list[tuple[datetime, int, int]]:
    """(sample time at the minute's end, good made, rejects made) per minute."""
    out = []
    for m in minutes():
        run = true_running_seconds(m)
        out.append((m + timedelta(minutes=1), int(run * GOOD_PER_MIN // 60), int(run * REJECT_PER_MIN // 60)))
    return out


def write_day(conn: psycopg.Connection) -> None:
    writer = SampleWriter(conn)
    state_series(writer, [(t(a), t(b), code) for a, b, code in OBSERVED])
    good, reject, energy = GOOD_START, 0, 1000.0
    writer.add("good", t("06:00:00"), good)
    writer.add("reject", t("06:00:00"), reject)
    writer.add("energy", t("06:00:00"), energy)
    for at, g, r in increments():
        if at == t(RESET_AT):
            good = 0  # the PLC counter was reset at the start of this minute
        good = (good + g) % 65536
        reject += r
        energy += 0.5
        writer.add("energy", at, energy)
        if t("12:00:00") < at < t("12:05:00"):
            writer.bad("good", at)
            writer.bad("reject", at)
            continue
        writer.add("good", at, good)
        writer.add("reject", at, reject)
    writer.flush()


@pytest.fixture
def day(db: psycopg.Connection) -> dict:
    """The scenario derived into a fresh database; returns what the test needs to know."""
    p = plant()
    derive.run_once(db, p, now=t("05:00:00"))  # sync config and calendar
    a = orders.create_order(db, "A-1", "line1", "lager", 20_000, by="planner")
    b = orders.create_order(db, "B-1", "line1", "pils", 20_000, by="planner")
    orders.transition(db, a["id"], "running", "alice", at=t("06:00:00"))
    orders.transition(db, a["id"], "completed", "alice", at=t("15:00:00"))
    orders.transition(db, b["id"], "running", "bob", at=t("15:00:00"))
    orders.transition(db, b["id"], "completed", "bob", at=t("21:30:00"))
    write_day(db)
    report = derive.run_once(db, p, now=t("22:00:00"))
    assert report.errors == []
    jam = next(e for e in downtime.list_events(db, "line1", t("08:00:00"), t("08:00:01")))
    assert jam["reason_code"] == "jam" and jam["automatic"], "fault code 4 maps to 'jam' automatically"
    downtime.assign_reason(db, jam["id"], "cleaning", by="carol", why="it was the planned cleaning")
    adjust_count(db, "line1", "good", t("16:00:00"), -5, why="double count at the inspection", by="dave")
    adjust_count(db, "line1", "rework", t("16:00:00"), 10, why="relabelled", by="dave")
    return {"plant": p, "orders": (a, b), "jam": jam}


def expected() -> dict:
    """The time elements and quantities, from the scenario's durations and increments."""
    stale = 2 * 60 + 1  # state tag: heartbeat 60 s, poll interval 1 s
    last_sample_before_gap = t("11:59:00")
    gap_unknown = (t("12:05:00") - (last_sample_before_gap + timedelta(seconds=stale))).total_seconds()
    pot = seconds("06:00", "22:00")
    pdt = seconds("10:00", "10:30")
    aust = seconds("08:00", "08:10") + seconds("13:30", "13:50")  # reclassified jam + changeover
    fault_outside_break = seconds("09:50", "10:40") - pdt
    failures = [fault_outside_break, seconds("14:30", "14:45"), seconds("20:00", "20:30")]
    adet = sum(failures)  # the data gap is no data: its own element, outside PBT
    adot = seconds("21:30", "22:00")
    pbt = pot - pdt - gap_unknown
    apt = pbt - aust - adet - adot  # the 20 s micro-stop stays inside APT (performance loss)
    inc = increments()
    # Units made in the gap arrive with the sample at 12:05, inside the no-data time: not in PQ.
    in_gap = [(g, r) for at, g, r in inc if t("12:00") < at <= t("12:05")]
    no_data_units = sum(g + r for g, r in in_gap)
    made_a = sum(g + r for at, g, r in inc if at <= t("15:00")) - no_data_units
    made_b = sum(g + r for at, g, r in inc if t("15:00") < at <= t("21:30")) - 5  # the voided count
    good = sum(g for _, g, _ in inc) - sum(g for g, _ in in_gap) - 5 - 10  # the voided count; 10 reworked
    pq = made_a + made_b
    return {
        "pot": pot, "pdt": pdt, "pbt": pbt, "apt": apt, "aust": aust, "adet": adet, "adot": adot,
        "aupt": apt + aust, "aubt": apt + aust + adet, "unknown": gap_unknown, "failures": failures,
        "pq": pq, "gq": good, "sq": pq - good - 10, "rq": 10, "pq_a": made_a, "pq_b": made_b,
        "ideal": 0.5 * made_a + 0.4 * made_b, "aoet": seconds("06:00", "21:30"), "energy": 0.5 * 16 * 60,
        "pq_no_data": no_data_units, "good_no_data": sum(g for g, _ in in_gap),
    }  # fmt: skip


def test_every_kpi_of_the_day_follows_the_iso_formulas(db: psycopg.Connection, day: dict) -> None:
    e = expected()
    k = kpi.period_kpi(db, "line1", t("06:00"), t("22:00"))
    for name in ("pot", "pdt", "pbt", "apt", "aust", "adet", "adot", "aupt", "aubt"):
        assert k[name] == pytest.approx(e[name]), name
    assert k["unknown_time"] == pytest.approx(e["unknown"])
    assert k["no_data_time"] == pytest.approx(e["unknown"])
    assert (k["minor_stops"], k["minor_stop_time"], k["minor_stop_loss"]) == (1, 20, "performance")
    for name in ("pq", "gq", "sq", "rq"):
        assert k[name] == pytest.approx(e[name]), name
    assert k["ideal_time"] == pytest.approx(e["ideal"])
    availability = e["apt"] / e["pbt"]
    effectiveness = e["ideal"] / e["apt"]
    quality = e["gq"] / e["pq"]
    assert k["availability"] == pytest.approx(availability)
    assert k["effectiveness"] == pytest.approx(effectiveness)
    assert k["quality_ratio"] == pytest.approx(quality)
    assert k["oee"] == pytest.approx(availability * effectiveness * quality)
    assert k["oee"] == pytest.approx(k["pru"] * e["gq"] / e["pbt"])  # = PRU x GQ / PBT
    assert k["nee"] == pytest.approx(e["aupt"] / e["pbt"] * effectiveness * quality)
    assert k["technical_efficiency"] == pytest.approx(e["apt"] / (e["apt"] + e["adet"]))
    assert k["setup_rate"] == pytest.approx(e["aust"] / e["aupt"])
    assert k["allocation_efficiency"] == pytest.approx(e["aubt"] / e["pbt"])
    assert k["utilisation_efficiency"] == pytest.approx(e["apt"] / e["aubt"])
    assert k["scrap_ratio"] == pytest.approx(e["sq"] / e["pq"])
    assert k["rework_ratio"] == pytest.approx(e["rq"] / e["pq"])
    assert k["pq_no_data"] == pytest.approx(e["pq_no_data"])
    assert (k["plausible"], k["implausible_reasons"]) == (False, ["units_in_no_data"])
    assert k["throughput_per_hour"] == pytest.approx((e["pq"] + e["pq_no_data"]) / e["aoet"] * 3600)
    assert k["failures"] == len(e["failures"])
    assert k["mtbf"] == pytest.approx(e["apt"] / len(e["failures"]))
    assert k["mttr"] == pytest.approx(sum(e["failures"]) / len(e["failures"]))
    assert k["energy"] == pytest.approx(e["energy"])
    assert k["energy_per_unit"] == pytest.approx(e["energy"] / (e["pq"] + e["pq_no_data"]))
    assert k["energy_per_good_unit"] == pytest.approx(e["energy"] / (e["gq"] + e["good_no_data"]))


def test_counter_wrap_and_reset_are_counted_exactly(db: psycopg.Connection, day: dict) -> None:
    inc = increments()
    before_reset = sum(g for at, g, _ in inc if at < t(RESET_AT))
    k = kpi.period_kpi(db, "line1", t("06:00"), t("09:05"))
    made = sum(g + r for at, g, r in inc if at <= t("09:05"))
    assert k["pq"] == pytest.approx(made)
    assert before_reset > 65_536 - GOOD_START, "the scenario wraps the 16-bit counter before the reset"


def test_an_order_spanning_two_shifts_is_split_between_them(db: psycopg.Connection, day: dict) -> None:
    e = expected()
    by_order = {row["group_label"]: row for row in kpi.kpis(db, "line1", t("06:00"), t("22:00"), by="order")}
    assert by_order["A-1"]["pq"] == pytest.approx(e["pq_a"])
    assert by_order["B-1"]["pq"] == pytest.approx(e["pq_b"])
    assert by_order["A-1"]["aoet"] == pytest.approx(seconds("06:00", "15:00"))
    by_shift = {row["group_label"].split()[0]: row for row in kpi.kpis(db, "line1", t("06:00"), t("22:00"), "shift")}
    assert set(by_shift) == {"early", "late"}
    late_a = sum(g + r for at, g, r in increments() if t("14:00") < at <= t("15:00"))
    assert by_shift["late"]["pq"] == pytest.approx(e["pq_b"] + late_a)
    assert by_shift["early"]["pq"] + by_shift["late"]["pq"] == pytest.approx(e["pq"])
    assert by_shift["early"]["pdt"] == pytest.approx(e["pdt"])
    for row in by_shift.values():
        assert row["pot"] == pytest.approx(8 * H)
        assert row["apt"] + row["adet"] + row["aust"] + row["adot"] == pytest.approx(row["pbt"])
    by_product = {row["group_key"]: row for row in kpi.kpis(db, "line1", t("06:00"), t("22:00"), by="product")}
    assert by_product["lager"]["pru"] == pytest.approx(0.5)
    assert by_product["pils"]["pru"] == pytest.approx(0.4)


def test_minor_stops_can_count_as_availability_loss_without_changing_oee(db: psycopg.Connection, day: dict) -> None:
    before = kpi.period_kpi(db, "line1", t("06:00"), t("22:00"))
    derive.run_once(db, plant(minor_stop_loss="availability"), now=t("22:00:00"))
    after = kpi.period_kpi(db, "line1", t("06:00"), t("22:00"))
    assert after["minor_stop_loss"] == "availability"
    assert after["apt"] == pytest.approx(before["apt"] - 20)
    assert after["adet"] == pytest.approx(before["adet"] + 20)
    assert after["oee"] == pytest.approx(before["oee"])
    assert after["failures"] == before["failures"], "a minor stop is not a failure"


def test_reclassification_keeps_history_and_moves_the_time(db: psycopg.Connection, day: dict) -> None:
    history = downtime.event_history(db, day["jam"]["id"])
    assert [(h["reason_code"], h["automatic"], h["by_user"]) for h in history] == [
        ("jam", True, "system"), ("cleaning", False, "carol")]
    pareto = {row["reason_code"]: row for row in kpi.downtime_pareto(db, "line1", t("06:00"), t("22:00"))}
    assert pareto["cleaning"]["seconds"] == pytest.approx(seconds("08:00", "08:10"))
    assert pareto["cleaning"]["time_element"] == "AUST"
    assert pareto["jam"]["seconds"] == pytest.approx(seconds("20:00", "20:30"))
    assert pareto["unassigned:idle"]["seconds"] == pytest.approx(seconds("14:30", "14:45") + seconds("21:30", "22:00"))
    assert pareto["minor_stop"]["seconds"] == pytest.approx(20)
    assert pareto["no_data"]["seconds"] == pytest.approx(expected()["unknown"])
    shares = [row["seconds"] for row in pareto.values()]
    assert shares == sorted(shares, reverse=True)


def test_waterfall_goes_from_pbt_to_fully_productive_time(db: psycopg.Connection, day: dict) -> None:
    e = expected()
    steps = {row["name"]: row["seconds"] for row in kpi.oee_waterfall(db, "line1", t("06:00"), t("22:00"))}
    assert steps["planned_busy_time"] == pytest.approx(e["pbt"])
    assert steps["actual_production_time"] == pytest.approx(e["apt"])
    assert steps["availability_loss"] == pytest.approx(e["pbt"] - e["apt"])
    assert steps["net_production_time"] == pytest.approx(e["ideal"])
    k = kpi.period_kpi(db, "line1", t("06:00"), t("22:00"))
    assert steps["fully_productive_time"] == pytest.approx(k["oee"] * e["pbt"])
