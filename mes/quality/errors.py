"""Errors of the quality package; all derive from :class:`collectors.errors.LineBrainError`."""

from __future__ import annotations

from collectors.errors import LineBrainError


class QualityError(LineBrainError):
    """Bad quality input (a chart with too few points, a spec with LSL above USL, ...)."""


class NotFound(QualityError):
    """A referenced quality record (spec, lot, nonconformance, ...) does not exist."""


class InvalidTransition(QualityError):
    """A nonconformance or inspection was asked to move to a status it cannot reach from where it is."""
