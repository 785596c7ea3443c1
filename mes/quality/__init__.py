"""Quality: specifications, inspections, process checks, SPC, capability, nonconformances, lot genealogy.

Pure computation (no database): :mod:`~mes.quality.constants`, :mod:`~mes.quality.charts`,
:mod:`~mes.quality.rules`, :mod:`~mes.quality.capability`. Records in PostgreSQL:
:mod:`~mes.quality.specs`, :mod:`~mes.quality.inspections`, :mod:`~mes.quality.process_checks`,
:mod:`~mes.quality.spc`, :mod:`~mes.quality.nonconformances`, :mod:`~mes.quality.genealogy`,
:mod:`~mes.quality.events`, :mod:`~mes.quality.summary`; :func:`run_quality_checks` runs every
automatic check once. See docs/quality.md.
"""

from mes.quality.capability import Capability, capability
from mes.quality.charts import ChartData, ChartLimits, ChartType, compute_limits, plot
from mes.quality.constants import c4, constants, d2, d3
from mes.quality.errors import InvalidTransition, NotFound, QualityError
from mes.quality.genealogy import trace
from mes.quality.jobs import run_quality_checks
from mes.quality.rules import check_rules, default_rules

__all__ = [
    "Capability",
    "ChartData",
    "ChartLimits",
    "ChartType",
    "InvalidTransition",
    "NotFound",
    "QualityError",
    "c4",
    "capability",
    "check_rules",
    "compute_limits",
    "constants",
    "d2",
    "d3",
    "default_rules",
    "plot",
    "run_quality_checks",
    "trace",
]
