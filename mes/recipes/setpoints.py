"""The audited setpoint write: one path for single setpoints and recipe downloads.

Every attempt, allowed or not, leaves one ``setpoints.write`` row in the audit log
(``mes/auth/audit.py``) naming who, when, from where, the tag, the old value, the
value asked for, the read-back and the result; the row also names the order and
recipe when the write belongs to a download, and the user a system actor acts for
(``on_behalf_of``), so the log is queryable by order, tag and user (:func:`write_log`).
The order of checks is fixed: the role (the ``setpoints.write`` action and the
tag's ``write_roles``), then the limits (:func:`check_value`), and only then a request to the collector that owns the
device (``setpoint_requests``, served by ``collectors.setpoint_queue``), which
writes, reads back and answers. The device write is not part of a database
transaction, so the audit row is written when the outcome is known, in one
transaction of its own; the request row keeps the attempt even if this process
dies while waiting.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from collectors.config.models import Plant
from mes.auth import audit
from mes.auth.models import User
from mes.auth.permissions import allowed
from mes.auth.tokens import token_may
from mes.db import first, rows
from mes.errors import NotFound

ACTION = "setpoints.write"
REQUEST_SECONDS = 5.0  # a collector must claim a request within this, or it is never written
ANSWER_SECONDS = 15.0  # a claimed request: the device's timeouts and the read-back window fit in this
RESULTS = ("written", "mismatch", "refused", "forbidden", "failed", "expired")


@dataclass(frozen=True)
class WritableTag:
    """A tag's write settings as the MES knows them (mirrored from the config)."""

    tag: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    roles: tuple[str, ...] = ()
    tolerance: float | None = None


@dataclass
class Attempt:
    """One write attempt and its outcome (``result`` is one of :data:`RESULTS`)."""

    tag: str
    value: Any
    result: str
    message: str = ""
    old: Any = None
    readback: Any = None
    audit_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result == "written"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Origin:
    """Where a write comes from, for the audit row: the client's address and the route or verb."""

    address: str | None = None
    route: str | None = None


# ---------------------------------------------------------------------------- the config mirror


def sync_writable_tags(conn: psycopg.Connection, plant: Plant) -> int:
    """Mirror the config's writable tags into ``setpoint_tags``; a tag no longer writable is inactive."""
    writable = [tag for tag in plant.tags if tag.writable]
    with conn.transaction():
        for tag in writable:
            low, high = tag.write_limits or (None, None)
            conn.execute(
                "INSERT INTO setpoint_tags (tag, unit, low, high, roles, tolerance, active) "
                "VALUES (%s, %s, %s, %s, %s, %s, true) ON CONFLICT (tag) DO UPDATE SET unit = EXCLUDED.unit, "
                "low = EXCLUDED.low, high = EXCLUDED.high, roles = EXCLUDED.roles, "
                "tolerance = EXCLUDED.tolerance, active = true",
                (tag.name, tag.unit, low, high, list(tag.write_roles), tag.write_tolerance),
            )
        conn.execute("UPDATE setpoint_tags SET active = false WHERE NOT (tag = ANY(%s))",
                     ([tag.name for tag in writable],))  # fmt: skip
    return len(writable)


def writable_tag(conn: psycopg.Connection, name: str) -> WritableTag | None:
    """The write settings of an active writable tag, or None (unknown or read-only)."""
    row = first(conn, "SELECT tag, unit, low, high, roles, tolerance FROM setpoint_tags "
                      "WHERE tag = %s AND active", (name,))  # fmt: skip
    if row is None:
        return None
    return WritableTag(row["tag"], row["unit"], row["low"], row["high"], tuple(row["roles"]), row["tolerance"])


def writable_tags(conn: psycopg.Connection) -> list[WritableTag]:
    """Every active writable tag, by name."""
    found = rows(conn, "SELECT tag, unit, low, high, roles, tolerance FROM setpoint_tags WHERE active ORDER BY tag")
    return [WritableTag(r["tag"], r["unit"], r["low"], r["high"], tuple(r["roles"]), r["tolerance"]) for r in found]


# ---------------------------------------------------------------------------- checks


def may_write(user: User, tag: WritableTag, action: str = ACTION) -> str | None:
    """Why ``user`` may not write ``tag`` (None: they may). The action decides first, then the
    tag's own ``write_roles``, then an API token's scopes."""
    if not allowed(user.role, action):
        return f"the role {user.role!r} may not {action}"
    if tag.roles and user.role not in tag.roles:
        return f"tag {tag.tag} may be written by {', '.join(tag.roles)} only, not by {user.role!r}"
    if not token_may(user, action):
        return f"this token's scopes do not cover {action}"
    return None


def check_value(tag: WritableTag, value: Any, low: float | None = None, high: float | None = None) -> str | None:
    """Why ``value`` may not be written (None: it may): it must be a finite number (a bool counts as
    0/1), inside the tag's write limits and inside ``low``/``high`` (a recipe parameter's own limits)."""
    if not isinstance(value, int | float) or value != value or value in (float("inf"), float("-inf")):
        return f"{value!r} is not a finite number"
    if tag.low is not None and tag.high is not None and not tag.low <= value <= tag.high:
        return f"{value:g} is outside the write limits [{tag.low:g}, {tag.high:g}] of tag {tag.tag}"
    if (low is not None and value < low) or (high is not None and value > high):
        shown = f"[{'' if low is None else f'{low:g}'}, {'' if high is None else f'{high:g}'}]"
        return f"{value:g} is outside the recipe's limits {shown} for tag {tag.tag}"
    return None


# ---------------------------------------------------------------------------- the write


def write_setpoint(database_url: str, user: User, tag_name: str, value: Any, origin: Origin | None = None,
                   context: dict[str, Any] | None = None, action: str = ACTION,
                   limits: tuple[float | None, float | None] = (None, None)) -> Attempt:  # fmt: skip
    """Write one setpoint through the audited path and return its outcome (refusals included).

    ``context`` goes into the audit row (``order``, ``recipe``, ``download``); ``action`` is the
    permission asked for (``recipes.download`` for a download); ``limits`` are a recipe parameter's
    own, checked with the tag's. Raises NotFound for a tag that
    is not a writable tag of the plant (that attempt is audited too).
    """
    origin = origin or Origin()
    context = dict(context or {})
    with psycopg.connect(database_url, autocommit=True) as conn:
        tag = writable_tag(conn, tag_name)
        if tag is None:
            record_attempt(conn, user, Attempt(tag_name, value, "refused", f"{tag_name} is not a writable tag",
                                               context=context), origin)  # fmt: skip
            raise NotFound(f"{tag_name} is not a writable tag (writable: true in the plant config)", "tag")
        refusal = may_write(user, tag, action)
        if refusal:
            return record_attempt(conn, user, Attempt(tag_name, value, "forbidden", refusal, context=context), origin)
        problem = check_value(tag, value, *limits)
        if problem:
            return record_attempt(conn, user, Attempt(tag_name, value, "refused", problem, context=context), origin)
        attempt = send(conn, user.name, tag, value)
        attempt.context = context
        return record_attempt(conn, user, attempt, origin)


def send(conn: psycopg.Connection, requested_by: str, tag: WritableTag, value: Any) -> Attempt:
    """Hand a checked value to the collector through ``setpoint_requests`` and wait for its answer."""
    row = conn.execute(
        "INSERT INTO setpoint_requests (tag, value, tolerance, requested_by, expires_at) "
        "VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING id",
        (tag.tag, Jsonb(value), tag.tolerance, requested_by, REQUEST_SECONDS),
    ).fetchone()
    assert row is not None
    request_id = int(row[0])
    conn.execute("SELECT pg_notify('linebrain_setpoints', %s)", (str(request_id),))
    deadline = time.monotonic() + REQUEST_SECONDS + ANSWER_SECONDS
    pause = 0.01
    while True:
        answer = first(conn, "SELECT state, result, message, old_value, readback FROM setpoint_requests "
                             "WHERE id = %s", (request_id,))  # fmt: skip
        assert answer is not None
        if answer["state"] == "done":
            return Attempt(tag.tag, value, answer["result"], answer["message"] or "", answer["old_value"],
                           answer["readback"], context={"request": request_id})  # fmt: skip
        if answer["state"] == "pending" and _expire(conn, request_id):
            return Attempt(tag.tag, value, "expired", f"no collector took the request within {REQUEST_SECONDS:g} s "
                           "(is `linebrain run` serving this tag's connection?); nothing was written",
                           context={"request": request_id})  # fmt: skip
        if time.monotonic() > deadline:
            return Attempt(tag.tag, value, "failed", f"the collector did not answer within {ANSWER_SECONDS:g} s; "
                           "the device may or may not hold the value", context={"request": request_id})  # fmt: skip
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _expire(conn: psycopg.Connection, request_id: int) -> bool:
    """Mark a request nobody claimed before its expiry as expired (never to be written later)."""
    cursor = conn.execute(
        "UPDATE setpoint_requests SET state = 'expired', result = 'expired', finished_at = now() "
        "WHERE id = %s AND state = 'pending' AND expires_at <= now()", (request_id,))  # fmt: skip
    return cursor.rowcount == 1


def record_attempt(conn: psycopg.Connection, user: User, attempt: Attempt, origin: Origin) -> Attempt:
    """The attempt's audit row (its own transaction); returns the attempt with the row's id."""
    after = {"value": attempt.value, "readback": attempt.readback, "result": attempt.result,
             "message": attempt.message, **attempt.context}
    if user.on_behalf_of:
        after["on_behalf_of"] = user.on_behalf_of
    with conn.transaction():
        attempt.audit_id = audit.record(conn, user.name, ACTION, f"tag:{attempt.tag}", {"value": attempt.old},
                                        after, origin.address, origin.route)  # fmt: skip
    return attempt


def write_log(conn: psycopg.Connection, *, order: str | None = None, tag: str | None = None,
              user: str | None = None, limit: int = 200) -> list[dict[str, Any]]:  # fmt: skip
    """Setpoint write attempts from the audit log, newest first, by order number, tag and user."""
    return rows(
        conn,
        "SELECT id, at, actor, substr(object, 5) AS tag, address, route, before->'value' AS old, "
        "after->'value' AS value, after->'readback' AS readback, after->>'result' AS result, "
        "after->>'message' AS message, after->>'order' AS order_number, after->'recipe' AS recipe, "
        "after->>'on_behalf_of' AS on_behalf_of "
        "FROM audit_log WHERE action = %(action)s "
        "AND (%(tag)s::text IS NULL OR object = 'tag:' || %(tag)s) "
        "AND (%(user)s::text IS NULL OR actor = %(user)s) "
        "AND (%(order)s::text IS NULL OR after->>'order' = %(order)s) "
        "ORDER BY id DESC LIMIT %(limit)s",
        {"action": ACTION, "tag": tag, "user": user, "order": order, "limit": limit},
    )


def results_of(attempts: Iterable[Attempt]) -> dict[str, int]:
    """How many attempts ended in each result."""
    counts: dict[str, int] = {}
    for attempt in attempts:
        counts[attempt.result] = counts.get(attempt.result, 0) + 1
    return counts
