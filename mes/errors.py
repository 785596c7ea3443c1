"""Errors the MES domain raises on purpose; the API maps each to one HTTP status."""

from __future__ import annotations

from collectors.errors import LineBrainError


class MesError(LineBrainError):
    """Base of MES errors. ``field`` names the input at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class NotFound(MesError):
    """The line, order, event, reason or product does not exist."""


class Conflict(MesError):
    """The request clashes with the current state (e.g. a second running order on a line)."""


class InvalidInput(MesError):
    """A value is well-formed but not acceptable (e.g. a split time outside the stop)."""
