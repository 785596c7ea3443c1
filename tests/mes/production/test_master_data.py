"""Products, ideal cycle times and reasons added on the admin page live beside the plant config:
a config sync leaves them alone, what the config owns is refused, and the KPIs use them."""

from __future__ import annotations

import psycopg
import pytest

from mes.errors import Conflict, InvalidInput, NotFound
from mes.production import downtime, master_data, products
from mes.production.sync import sync_plant
from tests.mes.production.scenario import local, plant


@pytest.fixture
def synced(db: psycopg.Connection) -> psycopg.Connection:
    sync_plant(db, plant(), now=local("2026-03-04", "07:00"))
    return db


def _cycle_times(conn: psycopg.Connection) -> dict[str, dict]:
    return {p["id"]: p["ideal_cycle_time"] for p in products.list_products(conn) if p["active"]}


def test_page_products_and_cycle_times_survive_a_config_sync(synced: psycopg.Connection) -> None:
    master_data.add_product(synced, "stout", "Stout 0.5 l", "bottles")
    master_data.set_cycle_time(synced, "stout", "line1", 0.6)
    master_data.set_cycle_time(synced, "stout", "line1", 0.55)  # the page's own value may change
    sync_plant(synced, plant(), now=local("2026-03-05", "07:00"))
    assert _cycle_times(synced) == {"lager": {"line1": 0.5}, "pils": {"line1": 0.4}, "stout": {"line1": 0.55}}


def test_what_the_config_names_is_refused_on_the_page(synced: psycopg.Connection) -> None:
    with pytest.raises(Conflict, match="plant config"):
        master_data.set_cycle_time(synced, "lager", "line1", 0.3)
    with pytest.raises(Conflict, match="exists already"):
        master_data.add_product(synced, "lager", "Lager")
    with pytest.raises(Conflict, match="plant config"):
        master_data.retire_reason(synced, "line1", "jam")
    with pytest.raises(NotFound):
        master_data.set_cycle_time(synced, "ghost", "line1", 1.0)
    for bad in (0.0, -1.0, float("nan"), 86401.0):
        with pytest.raises(InvalidInput, match="seconds per unit"):
            master_data.set_cycle_time(synced, "pils", "line1", bad)
    with pytest.raises(InvalidInput) as bad_code:
        master_data.add_product(synced, "no spaces", "x")
    assert bad_code.value.field == "product_id"


def test_a_page_reason_joins_the_tree_survives_a_sync_and_can_be_taken_out(synced: psycopg.Connection) -> None:
    master_data.add_reason(synced, "line1", "label_glue", "Label glue empty", "Material", "ADET", "breakdown")
    sync_plant(synced, plant(), now=local("2026-03-05", "07:00"))
    codes = {r["code"]: r["source"] for g in downtime.reason_tree(synced, "line1") for r in g["reasons"]}
    assert codes["label_glue"] == "page" and codes["jam"] == "config"
    with pytest.raises(Conflict, match="already"):
        master_data.add_reason(synced, "line1", "label_glue", "again", "Material")
    master_data.retire_reason(synced, "line1", "label_glue")
    assert "label_glue" not in {r["code"] for g in downtime.reason_tree(synced, "line1") for r in g["reasons"]}


def test_a_config_that_names_a_page_row_takes_it_over(synced: psycopg.Connection) -> None:
    master_data.add_product(synced, "stout", "Stout", "bottles")
    master_data.set_cycle_time(synced, "stout", "line1", 0.6)
    config = plant()
    config = config.model_copy(update={"products": [*config.products, config.products[0].model_copy(
        update={"id": "stout", "name": "Stout (config)", "ideal_cycle_time": {"line1": 0.7}})]})  # fmt: skip
    sync_plant(synced, config, now=local("2026-03-05", "07:00"))
    assert _cycle_times(synced)["stout"] == {"line1": 0.7}
    with pytest.raises(Conflict, match="plant config"):
        master_data.set_cycle_time(synced, "stout", "line1", 0.6)
