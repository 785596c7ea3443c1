"""The ISA-18.2 alarm state machine, as pure functions: no database, no clock.

An occurrence (one activation of one alarm point) is in one of these states:

- ``unacknowledged``: active, not yet acknowledged (annunciated, flashing);
- ``acknowledged``: active, acknowledged;
- ``returned_unacknowledged``: the condition cleared before anyone acknowledged;
- ``latched``: a latched rule's condition cleared; it stays until a person resets it;
- ``shelved`` / ``suppressed`` / ``out_of_service``: hidden from operators by a person
  (shelving, with an expiry), by design (e.g. the line is in planned stop) or for
  maintenance; when the overlay ends an alarm still active is annunciated again;
- ``normal``: over (the occurrence ends; the next activation is a new occurrence).

Each function returns the new :class:`Occurrence` or raises :class:`Conflict`
naming why the transition is not allowed from the current state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from mes.errors import Conflict

State = Literal["unacknowledged", "acknowledged", "returned_unacknowledged", "latched", "normal", "shelved",
                "suppressed", "out_of_service"]  # fmt: skip
Mode = Literal["in_service", "shelved", "suppressed", "out_of_service"]
HIDDEN: tuple[State, ...] = ("shelved", "suppressed", "out_of_service")
SHOWN: tuple[State, ...] = ("unacknowledged", "acknowledged", "returned_unacknowledged", "latched")


@dataclass(frozen=True, slots=True)
class Occurrence:
    state: State
    active: bool
    acknowledged: bool = False

    @property
    def ended(self) -> bool:
        return self.state == "normal"


def activate(mode: Mode) -> Occurrence:
    """The condition came (after its on-delay): a new occurrence, shown unless the point is hidden."""
    if mode == "in_service":
        return Occurrence("unacknowledged", active=True)
    return Occurrence(mode, active=True)


def clear(occurrence: Occurrence, latched: bool) -> Occurrence:
    """The condition went (after its off-delay and deadband)."""
    state = occurrence.state
    if not occurrence.active:
        raise Conflict(f"the alarm is not active ({state})")
    if state in HIDDEN:
        return Occurrence("normal", active=False, acknowledged=occurrence.acknowledged)
    if latched:
        return replace(occurrence, state="latched", active=False)
    if state == "unacknowledged":
        return replace(occurrence, state="returned_unacknowledged", active=False)
    return Occurrence("normal", active=False, acknowledged=True)


def acknowledge(occurrence: Occurrence) -> Occurrence:
    """An operator acknowledged it. A returned alarm is then over; a latched one still needs a reset."""
    state = occurrence.state
    if occurrence.acknowledged or state not in SHOWN:
        raise Conflict(f"cannot acknowledge an alarm that is {state}" + (" and acknowledged" if
                       occurrence.acknowledged else ""))  # fmt: skip
    if state == "unacknowledged":
        return replace(occurrence, state="acknowledged", acknowledged=True)
    if state == "returned_unacknowledged":
        return Occurrence("normal", active=False, acknowledged=True)
    return replace(occurrence, acknowledged=True)  # latched: acknowledged, waiting for its reset


def reset(occurrence: Occurrence) -> Occurrence:
    """An operator reset a latched alarm whose condition has cleared (a reset also acknowledges)."""
    if occurrence.state != "latched":
        raise Conflict(f"only a latched alarm can be reset; this one is {occurrence.state}")
    return Occurrence("normal", active=False, acknowledged=True)


def hide(occurrence: Occurrence, mode: Mode) -> Occurrence:
    """The point was shelved, suppressed or taken out of service while this occurrence is open."""
    if mode == "in_service":
        raise Conflict("hiding needs shelved, suppressed or out_of_service")
    if not occurrence.active:
        return Occurrence("normal", active=False, acknowledged=occurrence.acknowledged)  # nothing left to show
    return replace(occurrence, state=mode)


def show(occurrence: Occurrence) -> Occurrence:
    """The overlay ended (unshelved, shelving expired, suppression over, back in service): an alarm still
    active is annunciated again and needs acknowledging."""
    if occurrence.state not in HIDDEN:
        raise Conflict(f"the alarm is not hidden ({occurrence.state})")
    if occurrence.active:
        return Occurrence("unacknowledged", active=True)
    return Occurrence("normal", active=False, acknowledged=occurrence.acknowledged)
