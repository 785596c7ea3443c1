"""The bounds of the numbers people and programs hand to the MES.

A measurement, a limit or a quantity is a finite number within ``MAGNITUDE``
(10¹²) of zero. No instrument or order in a plant comes near it, the
statistics over up to 100,000 such values cannot overflow a float (squares stay
below 10²⁹), and a value past it is a typo (an operator entering ``9e307``) or a
program gone wrong — refused with a 422 naming the field, never a 500 or a
silently stored infinity. Durations have their own bound (``MAX_SECONDS``, about
31 years) so that adding one to a time stays a valid time. Ids are bounded by
their column (``integer`` or ``bigint``) so a huge id is a clear 422 too.

The pydantic types below are used by the API and CLI input models; the domain
functions that take plain numbers call :func:`check_number`.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

from mes.errors import InvalidInput

MAGNITUDE = 1e12
MAX_SECONDS = 1e9
MAX_INT4 = 2**31 - 1
MAX_INT8 = 2**63 - 1

Measurement = Annotated[float, Field(ge=-MAGNITUDE, le=MAGNITUDE, allow_inf_nan=False)]
"""A measured value, a specification or process limit, a target: finite, |x| ≤ 10¹²."""

Quantity = Annotated[float, Field(ge=0, le=MAGNITUDE, allow_inf_nan=False)]
"""Units of product (a lot, a consumption): finite, 0 ≤ x ≤ 10¹²."""

PositiveQuantity = Annotated[float, Field(gt=0, le=MAGNITUDE, allow_inf_nan=False)]
"""Units that must be more than none (a nonconformance, a disposition, a planned order)."""

Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
"""A duration in seconds: finite, at most 10⁹ s (about 31 years)."""

PositiveSeconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]

Count = Annotated[int, Field(ge=0, le=MAX_INT4)]
"""A whole number of units or defects, stored as ``integer``."""

SerialId = Annotated[int, Field(ge=1, le=MAX_INT4)]
"""The id of a record with a ``serial`` key (specs, plans, charts)."""

BigId = Annotated[int, Field(ge=1, le=MAX_INT8)]
"""The id of a record with a ``bigserial`` key (orders, lots, nonconformances, ...)."""


def check_number(value: float, field: str, *, low: float = -MAGNITUDE, high: float = MAGNITUDE,
                 positive: bool = False) -> float:
    """``value`` as a float when it is finite and within [low, high] (and above 0 when ``positive``);
    otherwise :class:`InvalidInput` naming ``field``."""
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a finite number, not {value!r}", field=field)
    if positive and number <= 0:
        raise InvalidInput(f"{field} must be positive, not {value!r}", field=field)
    if not low <= number <= high:
        raise InvalidInput(f"{field} must lie between {low:g} and {high:g}, not {value!r}", field=field)
    return number
