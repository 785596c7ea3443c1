"""Energy (issue 19): kWh per good unit by line, product, order and shift (the KPI rows), energy
used while nothing was produced as its own loss (:mod:`mes.energy.usage`), and the ISO 50006
baseline per line with the deviation per shift (:mod:`mes.energy.baseline`)."""

from mes.energy.baseline import deviations, fit_baseline, latest_baseline
from mes.energy.usage import energy_by, energy_split

__all__ = ["deviations", "energy_by", "energy_split", "fit_baseline", "latest_baseline"]
