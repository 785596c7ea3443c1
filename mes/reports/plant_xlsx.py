"""Plant reports as XLSX: the line report's layout (:mod:`mes.reports.xlsx`) with a sheet of the lines
side by side, the line beside each order and product, and the utilities' meters. Numbers are numbers."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter

from mes.reports.pdf import N_, andon_kind, element_label, title
from mes.reports.xlsx import (
    ALARMS,
    ANDON_CALLS,
    ANDON_KINDS,
    ENERGY,
    NONCONFORMANCES,
    ORDERS,
    PARETO,
    PRODUCTS,
    QUALITY,
    WATERFALL,
    Column,
    SheetWriter,
)

LINES: list[Column] = [
    ("line_id", N_("Line"), "text"), ("start", N_("From"), "time"), ("end", N_("To"), "time"),
    ("pbt", N_("Planned busy time"), "duration"), ("apt", N_("Actual production time"), "duration"),
    ("adet", N_("Delay time (ADET)"), "duration"), ("pq", N_("Produced"), "number"), ("gq", N_("Good"), "number"),
    ("sq", N_("Scrap"), "number"), ("availability", N_("Availability"), "percent"),
    ("effectiveness", N_("Performance"), "percent"), ("quality_ratio", N_("Quality rate"), "percent"),
    ("oee", N_("OEE"), "percent"), ("energy", N_("Energy (kWh)"), "number"),
    ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
]  # fmt: skip
LINE: list[Column] = [("line_id", N_("Line"), "text")]
UTILITIES: list[Column] = [("line_id", N_("Utility meter"), "text"), ("energy", N_("Energy (kWh)"), "number")]
PLANT_ENERGY: list[Column] = [
    ("lines_energy", N_("Energy of the lines (kWh)"), "number"),
    ("utilities_energy", N_("Energy of utilities (kWh)"), "number"), ("energy", N_("Energy (kWh)"), "number"),
    ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
    ("idle", N_("Energy while not producing (kWh)"), "number"),
]  # fmt: skip
SHEETS = (N_("Summary"), N_("Lines"), N_("Orders"), N_("Products"), N_("Loss waterfall"), N_("Downtime by reason"),
          N_("Quality"), N_("Energy"), N_("Alarms and their handling"), N_("Andon calls"))  # fmt: skip


def summary_row(content: dict[str, Any]) -> dict[str, Any]:
    """The plant's summed KPI row with the plant's kWh (lines and utilities) and kWh per good unit."""
    energy = content["energy"]
    return {**content["oee"], "energy": energy["energy"], "energy_per_good_unit": energy["energy_per_good_unit"]}


def plant_xlsx(content: dict[str, Any], locale: str) -> bytes:
    """The plant report as an XLSX workbook (bytes)."""
    period = content["period"]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    out = SheetWriter(book, locale, period.timezone)
    out.summary(title(period.kind, locale), f"{content['line_name']} {period.label}", summary_row(content))
    lines = [{**s["kpi"], "line_id": s["line_id"], "start": s["start"], "end": s["end"]} for s in content["lines"]]
    out.table(SHEETS[1], LINES, lines)
    out.table(SHEETS[2], LINE + ORDERS, content["production"]["orders"])
    out.table(SHEETS[3], LINE + PRODUCTS, content["production"]["products"])
    out.table(SHEETS[4], WATERFALL, content["waterfall"])
    out.table(SHEETS[5], PARETO, content["pareto"])
    quality = content["quality"]
    out.table(SHEETS[6], QUALITY, [{**quality, "nonconformance_count": len(quality["nonconformances"])}])
    out.table(SHEETS[6], LINE + NONCONFORMANCES, quality["nonconformances"], top=3)
    energy = content["energy"]
    out.table(SHEETS[7], PLANT_ENERGY, [energy])
    parts = [{"element": e, "label": element_label(e, locale), **part} for e, part in energy["by_element"].items()]
    out.table(SHEETS[7], ENERGY, parts, top=3)
    out.table(SHEETS[7], UTILITIES, energy["utilities"], top=len(parts) + 5)
    out.table(SHEETS[8], ALARMS, content["alarms"]["alarms"])
    andon = content["andon"]
    kinds = [{**k, "kind_label": andon_kind(k["kind"], "", locale)} for k in andon["by_kind"]]
    out.table(SHEETS[9], ANDON_KINDS, kinds)
    calls = [{**c, "kind_label": andon_kind(c["kind"], c["label"], locale)} for c in andon["calls"]]
    out.table(SHEETS[9], LINE + ANDON_CALLS, calls, top=len(kinds) + 2)
    book.close()
    return buffer.getvalue()
