"""The one permission table: which role may do which action.

The API, the pages and the CLI all ask :func:`allowed`; a button a role may not
press is also a 403 in the API. Reads need only a signed-in user (or
``web.anonymous_read``); every write names one action here. docs/security.md
shows this table (``markdown_table()``; a test keeps them equal).
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["operator", "supervisor", "quality", "maintenance", "manager", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

# action -> what it lets a user do
ACTIONS: dict[str, str] = {
    "orders.plan": "create work orders and change their plan (quantity, due time, note)",
    "orders.transition": "release, start, pause, resume, complete or cancel work orders",
    "downtime.assign": "give a stop its reason (or reclassify it)",
    "downtime.edit": "split and merge stops",
    "counts.adjust": "correct good/reject/total/rework counts",
    "calendar.edit": "plan downtime, add extra shifts and holidays",
    "quality.plan": "specifications, inspection plans, SPC charts and limits, run checks",
    "quality.inspect": "record inspections and lots (create, consume, split, merge)",
    "quality.disposition": "disposition and close nonconformances, freeze SPC limits, skip inspections",
    "handover.write": "write shift handover notes and close open items",
    "setpoints.write": "write a setpoint to a device (tags marked writable; a tag's write_roles narrow it)",
    "recipes.edit": "create recipe versions (drafts) and withdraw them",
    "recipes.approve": "approve recipes (password re-entered: an electronic signature)",
    "recipes.download": "download an approved recipe to the devices (by hand; at order start it is automatic)",
    "routing.plan": "work centres, routings, routed orders, cutting bundles, share links of an order's tracking",
    "routing.report": "scan bundles and book pieces out of an operation",
    "attendance.record": "record operators' attendance (clock-in to clock-out) for output and efficiency",
    "reports.generate": "generate and store a shift, day, week or month report",
    "reports.sign_off": "sign a shift, day, week or month off (once; shown in its reports)",
    "energy.baseline": "fit a line's energy baseline (kWh against produced units)",
    "alarms.acknowledge": "acknowledge alarms and reset latched ones",
    "alarms.shelve": "shelve and unshelve alarms (with an end time and a reason)",
    "alarms.service": "take alarms out of service and return them",
    "alarms.close": "close finished alarms with their cause and action",
    "andon.call": "raise, acknowledge and resolve andon calls",
    "maintenance.orders": "open and close maintenance work orders",
    "audit.read": "read the audit log",
    "users.manage": "add, change and disable users; create and revoke anyone's API tokens",
    "plant.edit": "add products, ideal cycle times and downtime reasons the plant config does not name",
}

_EVERYONE_ON_THE_LINE = {"orders.transition", "downtime.assign", "quality.inspect", "routing.report"}

_ALARMS_ON_THE_LINE = {"alarms.acknowledge", "andon.call"}
_ALARM_OWNERS = _ALARMS_ON_THE_LINE | {"alarms.shelve", "alarms.service", "alarms.close"}

PERMISSIONS: dict[Role, frozenset[str]] = {
    "operator": frozenset(_EVERYONE_ON_THE_LINE | _ALARMS_ON_THE_LINE),
    "supervisor": frozenset(_EVERYONE_ON_THE_LINE | {"orders.plan", "downtime.edit", "counts.adjust",
                                                     "calendar.edit", "handover.write"}
                            | {"setpoints.write", "recipes.edit", "recipes.download"}
                            | {"routing.plan", "attendance.record"}
                            | {"reports.generate", "reports.sign_off"}
                            | _ALARM_OWNERS),
    "quality": frozenset({"quality.inspect", "quality.plan", "quality.disposition", "counts.adjust"}
                         | {"recipes.edit", "recipes.approve"}
                         | _ALARMS_ON_THE_LINE),
    "maintenance": frozenset({"downtime.assign", "downtime.edit"} | {"setpoints.write"}
                             | _ALARM_OWNERS | {"maintenance.orders"}),
    "manager": frozenset({"orders.plan", "orders.transition", "downtime.assign", "downtime.edit", "counts.adjust",
                          "calendar.edit", "handover.write", "audit.read"}
                         | {"setpoints.write", "recipes.edit", "recipes.approve", "recipes.download"}
                         | {"routing.plan", "routing.report", "attendance.record"}
                         | {"reports.generate", "reports.sign_off", "energy.baseline"}
                         | _ALARM_OWNERS | {"maintenance.orders"}
                         | {"plant.edit"}),
    "admin": frozenset(ACTIONS),
}  # fmt: skip


def allowed(role: str, action: str) -> bool:
    """May ``role`` do ``action``? An unknown action is a programming error, not a silent no."""
    if action not in ACTIONS:
        raise KeyError(f"unknown action {action!r}; add it to mes.auth.permissions.ACTIONS")
    return action in PERMISSIONS.get(role, frozenset())  # type: ignore[call-overload]


def markdown_table() -> str:
    """The table as Markdown (role columns, action rows), as docs/security.md shows it."""
    head = "| action | " + " | ".join(ROLES) + " | what it allows |"
    rule = "|---|" + "---|" * len(ROLES) + "---|"
    rows = [
        f"| `{action}` | " + " | ".join("✓" if action in PERMISSIONS[role] else "" for role in ROLES)
        + f" | {meaning} |"
        for action, meaning in ACTIONS.items()
    ]
    return "\n".join([head, rule, *rows])
