"""OpenDocument spreadsheets (ODS, OTS, and flat FODS) read from their XML with lxml.

Each sheet is read like a CSV file (``csv.rows_to_sections``) under its name, and a cell as
its text shows it (the formatted date, number or formula result LibreOffice wrote beside the
value). Repeated rows and columns (how ODS stores a run of equal or empty cells) are expanded
only as far as they hold text, so a sheet "repeated" to a million empty rows costs nothing.
Streamed row by row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from app.core.errors import DamagedFile, ParseError
from app.core.parse import Section
from app.core.parse._common import ZIP_MEMBER_ERRORS, check_opendocument, describe, open_zip
from app.core.parse.csv import rows_to_sections

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE, _ROW, _NAME = TABLE + "table", TABLE + "table-row", TABLE + "name"
_CELLS = (TABLE + "table-cell", TABLE + "covered-table-cell")
_COLS_REPEATED, _ROWS_REPEATED = TABLE + "number-columns-repeated", TABLE + "number-rows-repeated"
_P, _S, _TAB, _LINE_BREAK, _NOTE = TEXT + "p", TEXT + "s", TEXT + "tab", TEXT + "line-break", TEXT + "note"
_ANNOTATION = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}annotation"
# A row or cell with text repeated more than this many times is a layout artefact, not data.
MAX_REPEAT = 1000


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        head = f.read(64)
    if not head.startswith(b"PK"):
        if head.lstrip().startswith(b"<"):  # a flat .fods: the document is one XML file
            with open(path, "rb") as f:
                return _read(f, "FODS")
        raise DamagedFile("damaged ODS: not a valid ZIP container")
    with open_zip(path, "ODS") as zf:
        check_opendocument(zf, "ODS", "spreadsheet")
        try:
            with zf.open("content.xml") as content:
                return _read(content, "ODS")
        except ZIP_MEMBER_ERRORS as exc:
            raise DamagedFile(f"damaged or truncated ODS: {describe(exc)}") from None


def _read(stream: IO[bytes], label: str) -> list[Section]:
    try:
        sections: list[Section] = []
        for name, rows in _sheets(stream):
            sections.extend(rows_to_sections(rows, name))
        return sections
    except ParseError:
        raise
    except RecursionError:
        raise DamagedFile(f"damaged {label}: nesting too deep") from None
    except Exception as exc:  # lxml's syntax errors, a bad repeat count in a damaged file...
        raise DamagedFile(f"damaged or truncated {label}: {describe(exc)}") from None


def _sheets(stream: IO[bytes]) -> Iterator[tuple[str, Iterator[list[str]]]]:
    """(sheet name, its rows) in order; each sheet's rows are read before the next sheet."""
    from lxml import etree

    events = etree.iterparse(stream, events=("start", "end"), tag=(_TABLE, _ROW), resolve_entities=False,
                             huge_tree=True, no_network=True)
    for event, el in events:
        if event == "start" and el.tag == _TABLE:
            yield " ".join((el.get(_NAME) or "").split()), _rows(events)


def _rows(events: Any) -> Iterator[list[str]]:
    """The rows of the sheet just started, up to its end."""
    depth = 1  # a table nested in a cell: its rows count as the sheet's
    for event, el in events:
        if el.tag == _TABLE:
            depth += 1 if event == "start" else -1
            if depth == 0:
                el.clear()
                return
            continue
        if event != "end":
            continue
        cells = _cells(el)
        repeat = _count(el.get(_ROWS_REPEATED))
        el.clear()
        while el.getprevious() is not None:  # free the rows before it
            del el.getparent()[0]
        if cells:
            for _ in range(min(repeat, MAX_REPEAT)):
                yield cells


def _cells(row: Any) -> list[str]:
    out: list[str] = []
    pending = 0  # empty cells not yet added: only added if text follows them
    for c in row:
        if c.tag not in _CELLS:
            continue
        n = _count(c.get(_COLS_REPEATED))
        text = " ".join(_cell_text(c).split())
        if not text:
            pending += n
            continue
        out.extend([""] * pending)
        pending = 0
        out.extend([text] * min(n, MAX_REPEAT))
    return out


def _cell_text(cell: Any) -> str:
    """The cell's paragraphs as shown, without comments (office:annotation) or notes."""
    paras = []
    for p in cell.iterchildren(_P):
        paras.append(_para(p))
    return "\n".join(paras)


def _para(el: Any) -> str:
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag == _S:
            parts.append(" " * _count(child.get(TEXT + "c")))
        elif tag in (_TAB, _LINE_BREAK):
            parts.append(" ")
        elif tag not in (_NOTE, _ANNOTATION):
            parts.append(_para(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _count(v: str | None) -> int:
    try:
        return max(1, int(v)) if v else 1
    except ValueError:
        return 1
