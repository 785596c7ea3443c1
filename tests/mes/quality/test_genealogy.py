"""Lot genealogy: three levels with a split and a merge, traced both ways, with the
excursions recorded while each lot was made."""

from __future__ import annotations

import psycopg
import pytest

from mes.quality.errors import QualityError
from mes.quality.genealogy import LotIn, SplitPart, consume, create_lot, merge, split, trace
from mes.quality.process_checks import run_process_checks
from mes.quality.specs import SpecIn, create_spec
from tests.mes.quality.helpers import at, make_line, make_order, write_samples


@pytest.fixture
def plant(db: psycopg.Connection) -> dict[str, int]:
    """Materials M1..M3 → intermediates I1 (order WO1, split into I1a/I1b) and I2 (WO2) →
    I3 = merge(I1b, I2) → finished F1 (WO3, from I1a) and F2 (WO4, from I3)."""
    make_line(db)
    orders = {
        "WO1": make_order(db, "WO1", at(0), at(60)),
        "WO2": make_order(db, "WO2", at(60), at(120)),
        "WO3": make_order(db, "WO3", at(120), at(180)),
        "WO4": make_order(db, "WO4", at(180), at(240)),
    }
    for code, supplier_lot in (("M1", "S-100"), ("M2", "S-200"), ("M3", "S-300")):
        create_lot(db, LotIn(code=code, kind="material", product="resin", quantity=500, supplier="Acme",
                             supplier_lot=supplier_lot))
    create_lot(db, LotIn(code="I1", work_order_id=orders["WO1"], quantity=100, started_at=at(0), ended_at=at(60)))
    create_lot(db, LotIn(code="I2", work_order_id=orders["WO2"], quantity=80, started_at=at(60), ended_at=at(120)))
    consume(db, "M1", "I1", 200)
    consume(db, "M2", "I1", 100)
    consume(db, "M3", "I2", 150)
    split(db, "I1", [SplitPart(code="I1a", quantity=60), SplitPart(code="I1b", quantity=40)])
    merge(db, ["I1b", "I2"], LotIn(code="I3"))
    create_lot(db, LotIn(code="F1", work_order_id=orders["WO3"], quantity=60, started_at=at(120), ended_at=at(180)))
    create_lot(db, LotIn(code="F2", work_order_id=orders["WO4"], quantity=120, started_at=at(180), ended_at=at(240)))
    consume(db, "I1a", "F1", 60)
    consume(db, "I3", "F2", 120)
    return orders


def codes(result: dict) -> set[str]:
    return {lot["code"] for lot in result["lots"]}


def test_forward_trace_finds_every_lot_made_from_a_supplier_lot(db: psycopg.Connection, plant) -> None:
    assert codes(trace(db, "M1", "forward")) == {"M1", "I1", "I1a", "I1b", "I3", "F1", "F2"}
    assert codes(trace(db, "M3", "forward")) == {"M3", "I2", "I3", "F2"}
    assert codes(trace(db, "F2", "forward")) == {"F2"}
    # the supplier's lot number works too: "which finished lots used supplier lot S-100?"
    assert {lot["code"] for lot in trace(db, "S-100", "forward")["lots"] if lot["code"].startswith("F")} == {
        "F1", "F2"}


def test_backward_trace_finds_everything_that_went_into_a_lot(db: psycopg.Connection, plant) -> None:
    assert codes(trace(db, "F2", "backward")) == {"F2", "I3", "I1b", "I2", "I1", "M1", "M2", "M3"}
    result = trace(db, "F1", "backward")
    assert codes(result) == {"F1", "I1a", "I1", "M1", "M2"}
    depth = {lot["code"]: lot["depth"] for lot in result["lots"]}
    assert depth == {"F1": 0, "I1a": 1, "I1": 2, "M1": 3, "M2": 3}
    assert {(link["parent"], link["child"], link["relation"]) for link in result["links"]} == {
        ("I1a", "F1", "consumed"), ("I1", "I1a", "split"), ("M1", "I1", "consumed"), ("M2", "I1", "consumed"),
    }  # fmt: skip


def test_backward_trace_shows_excursions_and_process_values_while_the_lot_was_made(
    db: psycopg.Connection, plant
) -> None:
    create_spec(db, SpecIn(product_id="P1", characteristic="curing temperature", unit="degC", tag="oven_temp",
                           process_low=180, process_high=190, min_duration_s=60))
    # WO1 (I1): 185 °C, an excursion to 195 °C from minute 20 to 25; WO3 (F1): a 30 s blip only (noise).
    series = [(at(m), 185.0) for m in range(0, 240, 5)]
    series += [(at(20.5), 193.0), (at(22), 195.0), (at(120.2), 196.0), (at(120.7), 185.0)]
    write_samples(db, "oven_temp", sorted(series))
    recorded = run_process_checks(db, at(300))
    assert [(e["work_order_id"], e["worst_value"]) for e in recorded] == [(plant["WO1"], 195.0)]

    result = trace(db, "F1", "backward")
    by_code = {lot["code"]: lot for lot in result["lots"]}
    assert by_code["F1"]["excursions"] == []  # the blip was shorter than the minimum duration
    made_during = by_code["I1"]["excursions"]
    assert len(made_during) == 1
    assert made_during[0]["start_time"] == at(20.5)
    assert made_during[0]["end_time"] == at(25)
    assert made_during[0]["worst_value"] == 195.0
    assert made_during[0]["direction"] == "high"
    assert by_code["I1a"]["excursions"] == made_during  # a split part was made when its source was
    assert by_code["M1"]["excursions"] == []
    values = by_code["I1"]["process_values"][0]
    assert (values["tag"], values["min"], values["max"]) == ("oven_temp", 185.0, 195.0)
    # A lot made by another order never shows WO1's excursion.
    assert all(lot["excursions"] == [] for lot in trace(db, "I2", "backward")["lots"])


def test_links_that_would_make_a_loop_are_refused(db: psycopg.Connection, plant) -> None:
    with pytest.raises(QualityError, match="loop"):
        consume(db, "F2", "M1")
    with pytest.raises(QualityError, match="more than lot"):
        split(db, "F2", [SplitPart(code="X", quantity=500)])
