"""Work centres and product routings.

A routing lists a product's operations by number, each at a work centre with a standard time per
piece (SAM, minutes) and a setup time. Operations follow one another in number order unless an
operation names the ones it comes after (``after``): several names are branches that join there
(sleeves and body sewn side by side, then set together). Every operation comes after smaller
numbers only, so a routing never loops, and exactly one operation is last: its good pieces are the
order's progress. A change is a new version; orders keep the version they were made with.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from mes.bounds import check_number
from mes.db import first, rows
from mes.errors import InvalidInput, NotFound

KINDS = ("line", "cell", "manual")
CENTRE_COLUMNS = "id, name, kind, line_id, equipment_id, operation_tag, active"


def save_work_centre(conn: psycopg.Connection, centre_id: str, kind: str, line_id: str, name: str = "",
                     equipment_id: str | None = None, operation_tag: str | None = None) -> dict:  # fmt: skip
    """Add or change a work centre. A line or cell names the equipment its machine data comes
    from (and may name the PLC tag that shows the operation it works on); a manual station has
    none and follows the shift calendar of ``line_id``."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    if operation_tag and not equipment_id:
        raise InvalidInput("an operation tag needs the work centre's equipment (its counters)", field="operation_tag")
    if kind != "manual" and not equipment_id:
        raise InvalidInput(f"a {kind} work centre names its equipment (its machine data)", field="equipment_id")
    for field, value in (("line_id", line_id), ("equipment_id", equipment_id)):
        if value and conn.execute("SELECT 1 FROM equipment WHERE id = %s", (value,)).fetchone() is None:
            raise InvalidInput(f"no equipment {value!r} (lines come from the plant config)", field=field)
    conn.execute(
        "INSERT INTO work_centres (id, name, kind, line_id, equipment_id, operation_tag) "
        "VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, line_id = EXCLUDED.line_id, "
        "equipment_id = EXCLUDED.equipment_id, operation_tag = EXCLUDED.operation_tag, active = true",
        (centre_id, name, kind, line_id, equipment_id, operation_tag),
    )
    return get_work_centre(conn, centre_id)


def get_work_centre(conn: psycopg.Connection, centre_id: str) -> dict:
    row = first(conn, f"SELECT {CENTRE_COLUMNS} FROM work_centres WHERE id = %s", (centre_id,))
    if row is None:
        raise NotFound(f"no work centre {centre_id!r}", field="work_centre_id")
    return row


def list_work_centres(conn: psycopg.Connection) -> list[dict]:
    return rows(conn, f"SELECT {CENTRE_COLUMNS} FROM work_centres ORDER BY id")


@dataclass(frozen=True)
class OperationSpec:
    """One step of a routing as a planner writes it. ``after`` None: the previous step."""

    seq: int
    name: str
    work_centre_id: str
    sam_minutes: float
    setup_minutes: float = 0.0
    after: tuple[int, ...] | None = None


def create_routing(conn: psycopg.Connection, product_id: str, operations: list[OperationSpec], by: str,
                   note: str = "") -> dict:  # fmt: skip
    """The product's next routing version (1 for the first)."""
    if conn.execute("SELECT 1 FROM products WHERE id = %s", (product_id,)).fetchone() is None:
        raise InvalidInput(f"no product {product_id!r} (products come from the plant config)", field="product_id")
    steps = _checked(conn, operations)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('routing:' || %s))", (product_id,))
        row = conn.execute(
            "INSERT INTO routings (product_id, version, note, created_by) SELECT %s, coalesce(max(version), 0) + 1, "
            "%s, %s FROM routings WHERE product_id = %s RETURNING id",
            (product_id, note, by, product_id),
        ).fetchone()
        assert row is not None
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO routing_operations (routing_id, seq, name, work_centre_id, sam_minutes, setup_minutes, "
                "after_seqs) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(row[0], s.seq, s.name, s.work_centre_id, s.sam_minutes, s.setup_minutes, list(s.after or ()))
                 for s in steps],
            )  # fmt: skip
    return get_routing(conn, int(row[0]))


def _checked(conn: psycopg.Connection, operations: list[OperationSpec]) -> list[OperationSpec]:
    """The operations in number order with ``after`` filled in; InvalidInput naming the operation
    (``operations[2].after``) when a number repeats, a predecessor is not an earlier operation, a
    work centre is unknown, a time is out of bounds, or more or less than one operation is last."""
    if not operations:
        raise InvalidInput("a routing has at least one operation", field="operations")
    ordered = sorted(enumerate(operations), key=lambda pair: pair[1].seq)
    known = {row[0] for row in conn.execute("SELECT id FROM work_centres WHERE active").fetchall()}
    steps: list[OperationSpec] = []
    for index, op in ordered:
        where = f"operations[{index}]"
        if op.seq <= 0 or op.seq > 2**31 - 1:
            raise InvalidInput(f"{where}: seq must be a positive number", field=f"{where}.seq")
        if steps and op.seq == steps[-1].seq:
            raise InvalidInput(f"{where}: operation {op.seq} appears twice", field=f"{where}.seq")
        if not op.name.strip():
            raise InvalidInput(f"{where}: name the operation", field=f"{where}.name")
        if op.work_centre_id not in known:
            raise InvalidInput(f"{where}: no work centre {op.work_centre_id!r}", field=f"{where}.work_centre_id")
        check_number(op.sam_minutes, f"{where}.sam_minutes", low=0, high=10_000)
        check_number(op.setup_minutes, f"{where}.setup_minutes", low=0, high=100_000)
        after = op.after if op.after is not None else ((steps[-1].seq,) if steps else ())
        earlier = {s.seq for s in steps}
        if not set(after) <= earlier or len(set(after)) != len(after):
            raise InvalidInput(f"{where}: after {list(after)} must name earlier operations, each once",
                               field=f"{where}.after")  # fmt: skip
        steps.append(OperationSpec(op.seq, op.name.strip(), op.work_centre_id, op.sam_minutes, op.setup_minutes,
                                   tuple(after)))  # fmt: skip
    followed = {seq for s in steps for seq in s.after or ()}
    last = [s.seq for s in steps if s.seq not in followed]
    if len(last) != 1:
        raise InvalidInput(f"exactly one operation must be last (its good pieces are the order's progress); "
                           f"these are followed by nothing: {last}", field="operations")  # fmt: skip
    return steps


def get_routing(conn: psycopg.Connection, routing_id: int) -> dict:
    routing = first(conn, "SELECT id, product_id, version, note, created_by, created_at FROM routings WHERE id = %s",
                    (routing_id,))  # fmt: skip
    if routing is None:
        raise NotFound(f"no routing {routing_id}", field="routing_id")
    routing["operations"] = rows(
        conn,
        "SELECT seq, name, work_centre_id, sam_minutes, setup_minutes, after_seqs FROM routing_operations "
        "WHERE routing_id = %s ORDER BY seq",
        (routing_id,),
    )
    return routing


def latest_routing(conn: psycopg.Connection, product_id: str) -> dict:
    """The product's newest routing version."""
    row = conn.execute("SELECT id FROM routings WHERE product_id = %s ORDER BY version DESC LIMIT 1",
                       (product_id,)).fetchone()  # fmt: skip
    if row is None:
        raise InvalidInput(f"product {product_id!r} has no routing yet", field="routing_id")
    return get_routing(conn, int(row[0]))


def list_routings(conn: psycopg.Connection, product_id: str | None = None) -> list[dict]:
    """Routings (newest version first per product) with their number of operations and total SAM."""
    return rows(
        conn,
        "SELECT r.id, r.product_id, r.version, r.note, r.created_by, r.created_at, count(o.seq) AS operations, "
        "coalesce(sum(o.sam_minutes), 0) AS sam_minutes FROM routings r "
        "LEFT JOIN routing_operations o ON o.routing_id = r.id "
        "WHERE %(product)s::text IS NULL OR r.product_id = %(product)s "
        "GROUP BY r.id ORDER BY r.product_id, r.version DESC",
        {"product": product_id},
    )

