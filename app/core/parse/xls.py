"""Excel 97-2003 workbooks (.xls, .xlt) through xlrd, read like the XLSX reader reads its
sheets: each sheet like a CSV under its name, each cell as Excel shows it (dates, times and
percentages by their number format, TRUE/FALSE, a formula's last result).

Many ".xls" files are something else under that name: web applications "export to Excel"
as an HTML table or tab-separated text, and an XLSX is sometimes renamed. Those are read
as what they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile
from app.core.parse import Section
from app.core.parse._common import OLE_MAGIC, describe
from app.core.parse.csv import rows_to_sections
from app.core.parse.xlsx import date_kind, shown_number

_OLD_BIFF = (b"\x09\x00", b"\x09\x02", b"\x09\x04")  # Excel 2-4 worksheets: a bare BOF record


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        head = f.read(2048)
    if not head.startswith(OLE_MAGIC) and head[:2] not in _OLD_BIFF:
        return _not_really_xls(path, head)
    import xlrd

    try:
        book = xlrd.open_workbook(path, formatting_info=True, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypted" in str(exc).lower():
            raise EncryptedFile("password-protected Excel workbook",
                                "Remove the password (save a copy without it) to have it indexed.") from None
        raise DamagedFile(f"damaged Excel workbook: {describe(exc)}") from None
    except Exception as exc:  # xlrd's compound-document and record errors, struct errors...
        raise DamagedFile(f"damaged Excel workbook: {describe(exc)}") from None
    try:
        epoch = datetime(1904, 1, 1) if book.datemode == 1 else datetime(1899, 12, 30)
        out: list[Section] = []
        for i in range(book.nsheets):
            try:
                sheet = book.sheet_by_index(i)
                out.extend(rows_to_sections(_rows(book, sheet, epoch), heading=sheet.name))
            except Exception as exc:  # one damaged sheet costs that sheet's rows, not the workbook
                raise DamagedFile(f"damaged Excel workbook: sheet {i + 1}: {describe(exc)}") from None
            finally:
                with contextlib.suppress(Exception):  # a sheet that never loaded has nothing to free
                    book.unload_sheet(i)
        return out
    finally:
        book.release_resources()


def _rows(book: Any, sheet: Any, epoch: datetime) -> Iterator[list[str]]:
    import xlrd

    formats = book.format_map if book.formatting_info else {}
    xfs = book.xf_list if book.formatting_info else []
    shown_by_xf: dict[int, str] = {}
    for r in range(sheet.nrows):
        row = []
        for cell in sheet.row(r):
            t = cell.ctype
            if t == xlrd.XL_CELL_TEXT:
                row.append(cell.value)
            elif t == xlrd.XL_CELL_BOOLEAN:
                row.append("TRUE" if cell.value else "FALSE")
            elif t in (xlrd.XL_CELL_NUMBER, xlrd.XL_CELL_DATE):
                shown = shown_by_xf.get(cell.xf_index)
                if shown is None:
                    key = xfs[cell.xf_index].format_key if cell.xf_index < len(xfs) else 0
                    fmt = formats.get(key)
                    shown = shown_by_xf[cell.xf_index] = date_kind(key, fmt.format_str if fmt else None)
                if t == xlrd.XL_CELL_DATE and (not shown or shown.startswith("percent")):
                    shown = "date"  # xlrd saw a date format that date_kind does not know
                row.append(shown_number(float(cell.value), shown, epoch))
            elif t == xlrd.XL_CELL_ERROR:  # as the cell shows it, like the XLSX reader
                row.append(xlrd.error_text_from_code.get(cell.value, ""))
            else:  # empty, blank
                row.append("")
        yield row


def _not_really_xls(path: str, head: bytes) -> list[Section]:
    """An "Excel" download that is HTML or tab-separated text, or an XLSX under the old name."""
    from app.core.parse import csv, html, text, xlsx

    if head.startswith(b"PK\x03\x04"):
        return xlsx.parse(path)
    start = head.lstrip().lower()
    if start.startswith((b"<html", b"<!doctype", b"<?xml", b"<table", b"<head", b"<meta", b"<style")):
        return html.parse(path)
    if text.binary_reason(head) is None:
        return csv.parse(path)  # tab- or comma-separated: the CSV reader sniffs which
    raise DamagedFile("not an Excel workbook (no Excel, HTML or text content)")
