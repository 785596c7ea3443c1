"""Tables as downloads: CSV (UTF-8 with BOM, so spreadsheet programs read Chinese right) or XLSX."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import xlsxwriter
from fastapi.responses import Response

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def table_bytes(rows: list[dict], fmt: str) -> bytes:
    """``rows`` (dicts with the same keys) as a CSV or XLSX file; the header is the keys."""
    columns = list(rows[0]) if rows else []
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[c]) for c in columns])
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "nan_inf_to_errors": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, columns)
    for index, row in enumerate(rows, start=1):
        sheet.write_row(index, 0, [_cell(row[c]) for c in columns])
    book.close()
    return buffer.getvalue()


def download(rows: list[dict], name: str, fmt: str) -> Response:
    return Response(table_bytes(rows, fmt), media_type=MEDIA[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})
