"""Reports as XLSX: one sheet per section, numbers as numbers (ratios formatted as percent,
durations as Excel durations in days shown ``[h]:mm:ss``, times as plant-local date-times),
headers in the chosen language. The column lists below are the layout; a consumer reading
the file by column can rely on them."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter

from mes.reports.pdf import N_, andon_kind, element_label, title
from mes.web.i18n import translations

# (key in the content row, header, kind): kind is number | percent | duration | time | text.
Column = tuple[str, str, str]
SUMMARY: list[Column] = [
    ("oee", N_("OEE"), "percent"), ("availability", N_("Availability"), "percent"),
    ("effectiveness", N_("Performance"), "percent"), ("quality_ratio", N_("Quality rate"), "percent"),
    ("pbt", N_("Planned busy time"), "duration"), ("apt", N_("Actual production time"), "duration"),
    ("adet", N_("Delay time (ADET)"), "duration"), ("aust", N_("Setup time (AUST)"), "duration"),
    ("adot", N_("Down time without order (ADOT)"), "duration"), ("no_data_time", N_("Time without data"), "duration"),
    ("pq", N_("Produced"), "number"), ("gq", N_("Good"), "number"), ("sq", N_("Scrap"), "number"),
    ("rq", N_("Rework"), "number"), ("energy", N_("Energy (kWh)"), "number"),
    ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
]  # fmt: skip
ORDERS: list[Column] = [
    ("number", N_("Order"), "text"), ("product_id", N_("Product"), "text"),
    ("planned_quantity", N_("Planned"), "number"), ("pq", N_("Produced"), "number"), ("gq", N_("Good"), "number"),
    ("sq", N_("Scrap"), "number"), ("gq_total", N_("Good to date"), "number"), ("oee", N_("OEE"), "percent"),
    ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
]  # fmt: skip
PRODUCTS: list[Column] = [
    ("product_id", N_("Product"), "text"), ("planned_quantity", N_("Planned"), "number"),
    ("pq", N_("Produced"), "number"), ("gq", N_("Good"), "number"), ("sq", N_("Scrap"), "number"),
    ("oee", N_("OEE"), "percent"), ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
]  # fmt: skip
SHIFTS: list[Column] = [
    ("shift", N_("Shift"), "text"), ("pq", N_("Produced"), "number"), ("gq", N_("Good"), "number"),
    ("oee", N_("OEE"), "percent"), ("energy", N_("Energy (kWh)"), "number"),
    ("energy_per_good_unit", N_("Energy per good unit (kWh)"), "number"),
]  # fmt: skip
WATERFALL: list[Column] = [("name", N_("Step"), "text"), ("seconds", N_("Time"), "duration")]
PARETO: list[Column] = [
    ("reason_code", N_("Reason"), "text"), ("seconds", N_("Lost time"), "duration"),
    ("events", N_("Stops"), "number"), ("share", N_("Share"), "percent"),
]  # fmt: skip
STOPS: list[Column] = [
    ("start", N_("From"), "time"), ("end", N_("To"), "time"), ("seconds", N_("Duration"), "duration"),
    ("reason_code", N_("Reason"), "text"), ("comment", N_("Comment"), "text"),
]  # fmt: skip
CHANGEOVERS: list[Column] = [
    ("from_order", N_("From order"), "text"), ("to_order", N_("To order"), "text"),
    ("from_product", N_("From product"), "text"), ("to_product", N_("To product"), "text"),
    ("seconds", N_("Duration"), "duration"),
]  # fmt: skip
QUALITY: list[Column] = [
    ("inspections_count", N_("Inspections"), "number"), ("inspections_failed", N_("Failed"), "number"),
    ("out_of_limit", N_("Values out of limits"), "number"), ("nonconformance_count", N_("Nonconformances"), "number"),
    ("scrap", N_("Scrap"), "number"), ("scrap_ratio", N_("Scrap rate"), "percent"),
    ("first_pass_yield", N_("First pass yield"), "percent"),
]  # fmt: skip
NONCONFORMANCES: list[Column] = [
    ("time", N_("Time"), "time"), ("work_order", N_("Order"), "text"), ("description", N_("Description"), "text"),
    ("quantity", N_("Quantity"), "number"),
]  # fmt: skip
HANDOVER: list[Column] = [
    ("written_at", N_("Time"), "time"), ("written_by", N_("Who"), "text"), ("note", N_("Note"), "text"),
    ("open_item", N_("Open item"), "text"),
]  # fmt: skip
ENERGY: list[Column] = [
    ("label", N_("Where the energy went"), "text"), ("seconds", N_("Time"), "duration"),
    ("energy", N_("Energy (kWh)"), "number"),
]  # fmt: skip
DEVIATIONS: list[Column] = [
    ("shift", N_("Shift"), "text"), ("produced", N_("Produced"), "number"), ("energy", N_("Energy (kWh)"), "number"),
    ("predicted", N_("Baseline (kWh)"), "number"), ("deviation", N_("Deviation (kWh)"), "number"),
]  # fmt: skip
ALARMS: list[Column] = [
    ("raised_at", N_("Raised at"), "time"), ("rule", N_("Alarm text"), "text"),
    ("priority", N_("Alarm priority"), "text"),
    ("ack_seconds", N_("Acknowledged after"), "duration"), ("acknowledged_by", N_("By"), "text"),
    ("close_seconds", N_("Closed after"), "duration"), ("cause", N_("Cause given"), "text"),
]  # fmt: skip
ANDON_CALLS: list[Column] = [
    ("raised_at", N_("Raised at"), "time"), ("kind_label", N_("Andon kind"), "text"),
    ("raised_by", N_("Raised by"), "text"), ("seconds_to_acknowledge", N_("Acknowledged after"), "duration"),
    ("acknowledged_by", N_("By"), "text"), ("seconds_to_resolve", N_("Resolved after"), "duration"),
    ("resolved_by", N_("Resolved by"), "text"), ("resolution", N_("Resolution"), "text"),
]  # fmt: skip
ANDON_KINDS: list[Column] = [
    ("kind_label", N_("Andon kind"), "text"), ("count", N_("Calls"), "number"),
    ("not_acknowledged", N_("Not acknowledged"), "number"), ("not_resolved", N_("Not resolved"), "number"),
    ("mean_seconds_to_acknowledge", N_("Mean time to acknowledge"), "duration"),
    ("mean_seconds_to_resolve", N_("Mean time to resolve"), "duration"),
]  # fmt: skip
SHEETS = (N_("Summary"), N_("Orders"), N_("Products"), N_("Shifts"), N_("Loss waterfall"), N_("Downtime by reason"),
          N_("Stops and comments"), N_("Changeovers"), N_("Quality"), N_("Handover"), N_("Energy"),
          N_("Alarms and their handling"), N_("Andon calls"))  # fmt: skip


class SheetWriter:
    def __init__(self, book: Any, locale: str, timezone: str) -> None:
        self.book, self.tz = book, ZoneInfo(timezone)
        self._ = translations(locale).gettext
        self.formats = {
            "percent": book.add_format({"num_format": "0.0%"}),
            "duration": book.add_format({"num_format": "[h]:mm:ss"}),
            "time": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "number": book.add_format({"num_format": "#,##0.####"}),
            "header": book.add_format({"bold": True, "bg_color": "#EEEEEE"}),
        }

    def cell(self, sheet: Any, row: int, col: int, value: Any, kind: str) -> None:
        if value is None:
            sheet.write_blank(row, col, None)
        elif kind == "duration":
            sheet.write_number(row, col, float(value) / 86400.0, self.formats["duration"])
        elif kind == "time" and isinstance(value, datetime):
            sheet.write_datetime(row, col, value.astimezone(self.tz).replace(tzinfo=None), self.formats["time"])
        elif kind in ("percent", "number") and isinstance(value, (int, float)):
            sheet.write_number(row, col, float(value), self.formats[kind])
        else:
            sheet.write_string(row, col, str(value))

    def summary(self, heading: str, subject: str, total: dict[str, Any]) -> None:
        """The first sheet: the report's title and subject, then the ``SUMMARY`` figures of ``total``."""
        sheet = self.book.add_worksheet(self._(SHEETS[0]))
        sheet.set_column(0, 0, 36)
        sheet.set_column(1, 1, 18)
        sheet.write_string(0, 0, heading, self.formats["header"])
        sheet.write_string(0, 1, subject)
        for row, (key, label, kind) in enumerate(SUMMARY, start=2):
            sheet.write_string(row, 0, self._(label))
            self.cell(sheet, row, 1, total[key], kind)

    def table(self, name: str, columns: list[Column], rows: list[dict[str, Any]], top: int = 0) -> Any:
        sheet = self.book.get_worksheet_by_name(self._(name)) or self.book.add_worksheet(self._(name))
        for col, (_key, header, _kind) in enumerate(columns):
            sheet.write_string(top, col, self._(header), self.formats["header"])
            sheet.set_column(col, col, 16)
        for index, row in enumerate(rows, start=top + 1):
            for col, (key, _header, kind) in enumerate(columns):
                self.cell(sheet, index, col, row.get(key), kind)
        return sheet


def report_xlsx(content: dict[str, Any], locale: str) -> bytes:
    """The report as an XLSX workbook (bytes)."""
    period = content["period"]
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    out = SheetWriter(book, locale, period.timezone)
    out.summary(title(period.kind, locale), f"{period.line_id} {period.label}", content["oee"])
    production = content["production"]
    out.table(SHEETS[1], ORDERS, production["orders"])
    out.table(SHEETS[2], PRODUCTS, production["products"])
    out.table(SHEETS[3], SHIFTS, production["shifts"])
    out.table(SHEETS[4], WATERFALL, content["waterfall"])
    out.table(SHEETS[5], PARETO, content["pareto"])
    out.table(SHEETS[6], STOPS, content["stops"])
    out.table(SHEETS[7], CHANGEOVERS, content["changeovers"])
    quality = content["quality"]
    out.table(SHEETS[8], QUALITY, [{**quality, "nonconformance_count": len(quality["nonconformances"])}])
    out.table(SHEETS[8], NONCONFORMANCES, quality["nonconformances"], top=3)
    handover = content["handover"]
    out.table(SHEETS[9], HANDOVER, [{**n, "open_item": "☐" if n.get("open_item") else ""} for n in handover["notes"]])
    energy = content["energy"]
    parts = [{"element": e, "label": element_label(e, locale), **part} for e, part in energy["by_element"].items()]
    out.table(SHEETS[10], ENERGY, parts)
    out.table(SHEETS[10], DEVIATIONS, energy["deviations"], top=len(parts) + 2)
    out.table(SHEETS[11], ALARMS, content["alarms"]["alarms"])
    andon = content["andon"]
    kinds = [{**k, "kind_label": andon_kind(k["kind"], "", locale)} for k in andon["by_kind"]]
    out.table(SHEETS[12], ANDON_KINDS, kinds)
    calls = [{**c, "kind_label": andon_kind(c["kind"], c["label"], locale)} for c in andon["calls"]]
    out.table(SHEETS[12], ANDON_CALLS, calls, top=len(kinds) + 2)
    book.close()
    return buffer.getvalue()
