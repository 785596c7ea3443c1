"""The base of the quality input models: strict about what a measurement can be.

Infinity and NaN are refused (JSON parsers accept them, SQL and SPC do not),
and times must carry a zone: a naive time would be read in whatever zone the
database session has, and cannot be compared with stored ``timestamptz``.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = ["AwareDatetime", "QualityInput"]


class QualityInput(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")
