"""Quality specifications per product (optionally per line).

A spec is one characteristic: measured (a value with target and LSL/USL) or
attribute (pass/fail, counted defects). It may bind a tag with process limits
— the curing temperature must stay 180–190 °C while an order of the product
runs — which the process checks watch. Changing a spec deactivates the old row
and adds a new one, so past inspections keep the limits they were judged by.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from pydantic import Field, model_validator

from mes.bounds import Measurement, Seconds
from mes.quality.db import one, rows
from mes.quality.errors import QualityError
from mes.quality.models import QualityInput


class SpecIn(QualityInput):
    product_id: str = Field(min_length=1)
    line_id: str | None = None
    characteristic: str = Field(min_length=1, max_length=120)
    kind: Literal["measured", "attribute"] = "measured"
    unit: str = ""
    target: Measurement | None = None
    lsl: Measurement | None = None
    usl: Measurement | None = None
    tag: str | None = None
    process_low: Measurement | None = None
    process_high: Measurement | None = None
    min_duration_s: Seconds = 0
    created_by: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> SpecIn:
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise ValueError(f"lsl {self.lsl} must be below usl {self.usl}")
        if self.process_low is not None and self.process_high is not None and self.process_low >= self.process_high:
            raise ValueError(f"process_low {self.process_low} must be below process_high {self.process_high}")
        if (self.process_low is not None or self.process_high is not None) and not self.tag:
            raise ValueError("process limits need a bound tag")
        return self


def create_spec(conn: psycopg.Connection, spec: SpecIn) -> dict[str, Any]:
    """Add a spec, replacing (deactivating) the active one for the same product, line and characteristic."""
    if not rows(conn, "SELECT 1 FROM products WHERE id = %s", (spec.product_id,)):
        raise QualityError(f"product {spec.product_id!r} does not exist")
    if spec.line_id and not rows(conn, "SELECT 1 FROM equipment WHERE id = %s", (spec.line_id,)):
        raise QualityError(f"line {spec.line_id!r} does not exist")
    with conn.transaction():
        conn.execute(
            "UPDATE quality_specs SET active = false WHERE active AND product_id = %s "
            "AND coalesce(line_id, '') = coalesce(%s, '') AND characteristic = %s",
            (spec.product_id, spec.line_id, spec.characteristic),
        )
        return one(
            conn,
            """
            INSERT INTO quality_specs (product_id, line_id, characteristic, kind, unit, target, lsl, usl, tag,
                                       process_low, process_high, min_duration_s, created_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *
            """,
            (spec.product_id, spec.line_id, spec.characteristic, spec.kind, spec.unit, spec.target, spec.lsl,
             spec.usl, spec.tag, spec.process_low, spec.process_high, spec.min_duration_s, spec.created_by),
        )  # fmt: skip


def get_spec(conn: psycopg.Connection, spec_id: int) -> dict[str, Any]:
    return one(conn, "SELECT * FROM quality_specs WHERE id = %s", (spec_id,), what=f"spec {spec_id}")


def list_specs(conn: psycopg.Connection, product_id: str | None = None, active: bool = True) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT * FROM quality_specs WHERE (%(p)s::text IS NULL OR product_id = %(p)s) AND (active OR NOT %(a)s) "
        "ORDER BY product_id, characteristic, line_id NULLS FIRST",
        {"p": product_id, "a": active},
    )


def specs_for(conn: psycopg.Connection, product_id: str, line_id: str) -> list[dict[str, Any]]:
    """Active specs that apply to ``product_id`` on ``line_id``: a line-specific spec wins over the general one."""
    return rows(
        conn,
        """
        SELECT DISTINCT ON (characteristic) * FROM quality_specs
        WHERE active AND product_id = %s AND (line_id IS NULL OR line_id = %s)
        ORDER BY characteristic, line_id NULLS LAST
        """,
        (product_id, line_id),
    )


def out_of_spec(spec: dict[str, Any], value: float) -> bool:
    return (spec["lsl"] is not None and value < spec["lsl"]) or (spec["usl"] is not None and value > spec["usl"])
