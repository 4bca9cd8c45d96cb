"""A statistic as a download: CSV (UTF-8 with a byte-order mark, so spreadsheet programs read it right) or XLSX."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from service.analytics.queries import Result


def _scope_line(result: Result) -> str:
    scope = result.scope
    parts = [f"{scope.date_from.isoformat()}..{scope.date_to.isoformat()}", f"group={scope.group}"]
    if scope.service:
        parts.append(f"service={scope.service}")
    if scope.departments is not None:
        parts.append("departments=" + ",".join(sorted(scope.departments)))
    return " ".join(parts)


def filename(result: Result, extension: str) -> str:
    scope = result.scope
    return f"civicdesk-{result.statistic.name}-{scope.date_from.isoformat()}-{scope.date_to.isoformat()}.{extension}"


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def to_csv(result: Result) -> bytes:
    """A header row of column names, then one row per item; empty cells for missing figures."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = [c.name for c in result.statistic.columns]
    writer.writerow(names)
    for row in result.rows:
        writer.writerow(["" if row.get(n) is None else _cell(row.get(n)) for n in names])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(result: Result) -> bytes:
    """One sheet named after the statistic: a bold header row, then the rows (numbers stay numbers)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(result.statistic.name[:31])
    bold = Font(bold=True)
    header = []
    for column in result.statistic.columns:
        cell = WriteOnlyCell(sheet, value=column.name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    names = [c.name for c in result.statistic.columns]
    for row in result.rows:
        sheet.append([row.get(n) for n in names])
    info = workbook.create_sheet("about")
    info.append([result.statistic.title, _scope_line(result)])
    info.append(["as_of", result.scope.as_of.isoformat()])
    for column in result.statistic.columns:
        info.append([column.name, column.description])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
