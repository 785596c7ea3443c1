"""Products, ideal cycle times and downtime reasons kept on the admin page, beside the plant config.

The plant config stays the source of what it names: a config sync updates those rows and
deactivates what it dropped (``source = 'config'``). What the config does not name can be added
here (``source = 'page'``): a new product, a product's ideal cycle time on a line the config
gives none for, a reason in a line's tree; later syncs leave these alone, and a config that
names the same row takes it over. A row the config owns is refused here with the message to
change the config, so a page edit is never silently undone at the next restart. Callers record
the audit row in the same transaction (:class:`mes.auth.deps.AuditedWrite`).
"""

from __future__ import annotations

import math
import re
from typing import Any

import psycopg

from mes.db import rows
from mes.errors import Conflict, InvalidInput, NotFound
from mes.production.equipment import get_unit

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
TIME_ELEMENTS = ("ADET", "AUST", "PDT", "ADOT")
LOSSES = ("breakdown", "setup", "minor_stop", "reduced_speed", "startup_reject", "production_reject", "planned")
CONFIG_OWNS = "comes from the plant config: change it there (the config is applied at the next start)"


def _code(value: str, field: str) -> str:
    value = value.strip()
    if not CODE.match(value):
        raise InvalidInput("letters, digits, '_', '.', '-' (at most 100), starting with a letter or digit",
                           field=field)  # fmt: skip
    return value


def _text(value: str, field: str, limit: int = 200) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise InvalidInput(f"1 to {limit} characters", field=field)
    return value


def add_product(conn: psycopg.Connection, product_id: str, name: str, unit: str = "pcs") -> dict[str, Any]:
    """A new product made on the plant's lines (its ideal cycle times follow, per line)."""
    product_id = _code(product_id, "product_id")
    found = rows(conn, "SELECT source FROM products WHERE id = %s", (product_id,))
    if found:
        raise Conflict(f"product {product_id!r} exists already", field="product_id")
    return rows(conn, "INSERT INTO products (id, name, unit, source) VALUES (%s, %s, %s, 'page') RETURNING *",
                (product_id, _text(name, "name"), _text(unit, "unit", 20)))[0]  # fmt: skip


def set_cycle_time(conn: psycopg.Connection, product_id: str, line_id: str, seconds: float) -> dict[str, Any]:
    """The ideal cycle time (PRU, seconds per unit) of a product on a line; refused when the
    plant config gives that one. Changes the line's KPIs from now on and for every period read
    again (the KPI cache recomputes the line)."""
    if not math.isfinite(seconds) or not 0 < seconds <= 86400:
        raise InvalidInput("seconds per unit, above 0 and at most 86400", field="ideal_cycle_time")
    if get_unit(conn, line_id)["level"] != "line":
        raise InvalidInput(f"{line_id!r} is not a line", field="line_id")
    if not rows(conn, "SELECT 1 FROM products WHERE id = %s", (product_id,)):
        raise NotFound(f"no product {product_id!r}")
    current = rows(conn, "SELECT source FROM product_cycle_times WHERE product_id = %s AND line_id = %s",
                   (product_id, line_id))  # fmt: skip
    if current and current[0]["source"] == "config":
        raise Conflict(f"the ideal cycle time of {product_id} on {line_id} {CONFIG_OWNS}", field="ideal_cycle_time")
    return rows(
        conn,
        "INSERT INTO product_cycle_times (product_id, line_id, ideal_cycle_time, source) VALUES (%s, %s, %s, 'page') "
        "ON CONFLICT (product_id, line_id) DO UPDATE SET ideal_cycle_time = EXCLUDED.ideal_cycle_time RETURNING *",
        (product_id, line_id, seconds),
    )[0]


def add_reason(conn: psycopg.Connection, line_id: str, code: str, name: str, category: str,
               time_element: str = "ADET", loss: str = "breakdown") -> dict[str, Any]:  # fmt: skip
    """A new reason in a line's tree (offered on the line page at once)."""
    if get_unit(conn, line_id)["level"] != "line":
        raise InvalidInput(f"{line_id!r} is not a line", field="line_id")
    code = _code(code, "code")
    if time_element not in TIME_ELEMENTS:
        raise InvalidInput(f"one of {', '.join(TIME_ELEMENTS)}", field="time_element")
    if loss not in LOSSES:
        raise InvalidInput(f"one of {', '.join(LOSSES)}", field="loss")
    if rows(conn, "SELECT 1 FROM downtime_reasons WHERE line_id = %s AND code = %s", (line_id, code)):
        raise Conflict(f"line {line_id} has a reason {code!r} already", field="code")
    return rows(
        conn,
        "INSERT INTO downtime_reasons (line_id, code, name, category, time_element, loss, source) "
        "VALUES (%s, %s, %s, %s, %s, %s, 'page') RETURNING *",
        (line_id, code, _text(name, "name"), _text(category, "category"), time_element, loss),
    )[0]


def retire_reason(conn: psycopg.Connection, line_id: str, code: str) -> dict[str, Any]:
    """Take a reason added on the page out of the tree (stops that have it keep it)."""
    found = rows(conn, "SELECT source, active FROM downtime_reasons WHERE line_id = %s AND code = %s",
                 (line_id, code))  # fmt: skip
    if not found:
        raise NotFound(f"line {line_id} has no reason {code!r}")
    if found[0]["source"] == "config":
        raise Conflict(f"reason {code!r} of {line_id} {CONFIG_OWNS}", field="code")
    return rows(conn, "UPDATE downtime_reasons SET active = false WHERE line_id = %s AND code = %s RETURNING *",
                (line_id, code))[0]  # fmt: skip
