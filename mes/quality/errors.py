"""Errors of the quality package.

They specialise the MES errors (:mod:`mes.errors`), so the API maps them to the
same HTTP statuses as the production core: bad input 422, not found 404, a
status change that is not allowed 409.
"""

from __future__ import annotations

from mes import errors as mes_errors


class QualityError(mes_errors.InvalidInput):
    """Bad quality input (a chart with too few points, a spec with LSL above USL, ...)."""


class NotFound(mes_errors.NotFound):
    """A referenced quality record (spec, lot, nonconformance, ...) does not exist."""


class InvalidTransition(mes_errors.Conflict):
    """A nonconformance, due inspection or chart cannot move to the asked status from where it is."""
