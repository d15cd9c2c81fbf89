"""Excel workbooks (XLSX, XLSM, XLTX) read directly from their XML parts with zipfile + lxml.

Each worksheet is read like a CSV file (``csv.rows_to_sections``): its first non-empty row is
the header and each later row reads "header: value; header: value", under the sheet's name as
the heading. A cell is indexed as Excel last showed it: text (shared or inline), numbers,
dates and times (by their number format), TRUE/FALSE, the cached result of a formula (not
the formula). Hidden sheets are read too (their text is in the file). A sheet is streamed row
by row, so a large one is never held whole. No spreadsheet library: lxml, already here for
the other office formats, reads the parts directly.
"""

from __future__ import annotations

import functools
import posixpath
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile, ParseError
from app.core.parse import Section
from app.core.parse._common import OLE_MAGIC, ZIP_MEMBER_ERRORS, describe, ole_kind, open_zip, read_member
from app.core.parse.csv import rows_to_sections

# Built-in number formats that show dates or times (ECMA-376 18.8.30, and the East Asian ones).
_DATE_FORMAT_IDS = frozenset({*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)})
_TIME_ONLY_IDS = frozenset({18, 19, 20, 21, 45, 46, 47})
# A custom format shows a date if, outside quoted text, escapes and [colour] parts, it has a
# date or time letter ("0.00" and "#,##0" have none; "[h]:mm" is an elapsed time, kept).
_FMT_NOISE = re.compile(r'"[^"]*"|\\.|\[(?![hmsHMS]+\])[^\]]*\]|_.|\*.|[eE][+-]')  # (E+: scientific)
_DATE_LETTERS = re.compile(r"[dmyhs]", re.I)


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        head = f.read(8)
    if head == OLE_MAGIC:
        # An OLE container with an .xlsx name: an .xls renamed, or a password-protected
        # workbook (Office encrypts the package into an OLE file).
        from app.core.parse import xls

        if ole_kind(path) == "xls":
            return xls.parse(path)
        raise EncryptedFile("password-protected Excel workbook",
                            "Remove the password (save a copy without it) to have it indexed.")
    with open_zip(path, "XLSX") as zf:
        try:
            return _read(zf)
        except ParseError:
            raise
        except RecursionError:
            raise DamagedFile("damaged XLSX: nesting too deep") from None
        except Exception as exc:  # lxml's syntax errors, a bad number or index in a damaged part...
            raise DamagedFile(f"damaged or truncated XLSX: {describe(exc)}") from None


def _xml(data: bytes) -> Any:
    from lxml import etree

    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))


def _local(tag: Any) -> str:
    """A tag's name without its namespace (transitional and strict OOXML use different ones)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el: Any, name: str) -> Iterator[Any]:
    return (c for c in el if _local(c.tag) == name)


def _read(zf: zipfile.ZipFile) -> list[Section]:
    names = set(zf.namelist())
    book_part = _main_part(zf, names)
    book = _xml(read_member(zf, book_part, "XLSX"))
    rels = _relationships(zf, book_part, names)
    strings = _shared_strings(zf, rels, names)
    formats = _date_formats(zf, rels, names)
    epoch = datetime(1899, 12, 30)
    for pr in (c for c in book.iter() if _local(c.tag) == "workbookPr"):
        if pr.get("date1904") in ("1", "true"):
            epoch = datetime(1904, 1, 1)
    sections: list[Section] = []
    for sheets in _children(book, "sheets"):
        for sheet in _children(sheets, "sheet"):
            rid = next((v for k, v in sheet.attrib.items() if _local(k) == "id"), None)
            target = rels.get(rid or "")
            if target is None or target not in names:
                continue  # a chart sheet or a dangling reference: no cells to read
            title = " ".join((sheet.get("name") or "").split())
            rows = _sheet_rows(zf, target, strings, formats, epoch)
            sections.extend(rows_to_sections(rows, title))
    return sections


def _main_part(zf: zipfile.ZipFile, names: set[str]) -> str:
    """The workbook part, from the package's relationships (xl/workbook.xml by convention)."""
    if "_rels/.rels" in names:
        for rel in _xml(read_member(zf, "_rels/.rels", "XLSX")):
            if (rel.get("Type") or "").endswith("/officeDocument"):
                target = (rel.get("Target") or "").lstrip("/")
                if target in names:
                    return target
    if "xl/workbook.xml" in names:
        return "xl/workbook.xml"
    raise DamagedFile("damaged XLSX: no workbook inside the package")


def _relationships(zf: zipfile.ZipFile, part: str, names: set[str]) -> dict[str, str]:
    """Relationship id -> part name, for the parts ``part`` refers to."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    if rels_name not in names:
        return {}
    out: dict[str, str] = {}
    for rel in _xml(read_member(zf, rels_name, "XLSX")):
        target = rel.get("Target") or ""
        if rel.get("TargetMode") == "External" or not target:
            continue
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out[rel.get("Id") or ""] = path
        out["type:" + (rel.get("Type") or "").rsplit("/", 1)[-1]] = path
    return out


def _shared_strings(zf: zipfile.ZipFile, rels: dict[str, str], names: set[str]) -> list[str]:
    part = rels.get("type:sharedStrings", "xl/sharedStrings.xml")
    if part not in names:
        return []
    out: list[str] = []
    for si in _xml(read_member(zf, part, "XLSX")):
        if _local(si.tag) == "si":
            out.append(_text_of(si))
    return out


def _text_of(el: Any) -> str:
    """The text of a string item: its t elements, in rich-text runs too, without the phonetic
    (furigana) runs, which repeat the text in another script."""
    parts: list[str] = []
    for c in el:
        name = _local(c.tag)
        if name == "t":
            parts.append(c.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in c if _local(t.tag) == "t")
    return "".join(parts)


def _date_formats(zf: zipfile.ZipFile, rels: dict[str, str], names: set[str]) -> list[str]:
    """For each cell style (the s attribute's index): how its numbers are shown (``date_kind``)."""
    part = rels.get("type:styles", "xl/styles.xml")
    if part not in names:
        return []
    styles = _xml(read_member(zf, part, "XLSX"))
    custom: dict[int, str] = {}
    for fmts in _children(styles, "numFmts"):
        for f in _children(fmts, "numFmt"):
            try:
                custom[int(f.get("numFmtId") or "")] = f.get("formatCode") or ""
            except ValueError:
                continue
    out: list[str] = []
    for xfs in _children(styles, "cellXfs"):
        for xf in _children(xfs, "xf"):
            try:
                fid = int(xf.get("numFmtId") or "0")
            except ValueError:
                fid = 0
            out.append(date_kind(fid, custom.get(fid)))
    return out


def date_kind(fid: int, code: str | None) -> str:
    """How a number in this format is shown: "date", "time", "datetime", "elapsed" ([h]:mm,
    a duration), "percentN" (N decimals) or "" (as is)."""
    if code is None:
        if fid in _TIME_ONLY_IDS:
            return "time"
        if fid in (9, 10):
            return "percent0" if fid == 9 else "percent2"
        return "datetime" if fid == 22 else "date" if fid in _DATE_FORMAT_IDS else ""
    bare = _FMT_NOISE.sub("", code.split(";", 1)[0])
    if "%" in bare:
        decimals = _DECIMALS.search(bare)
        return f"percent{len(decimals.group(1)) if decimals else 0}"
    letters = {c.lower() for c in _DATE_LETTERS.findall(bare)}
    if not letters or bare.strip().lower() == "general":
        return ""
    if _ELAPSED.search(bare):
        return "elapsed"
    has_date = bool(letters & {"d", "y"}) or ("m" in letters and not letters & {"h", "s"})
    has_time = bool(letters & {"h", "s"})
    return "datetime" if has_date and has_time else "time" if has_time else "date"


_DECIMALS = re.compile(r"\.([0#?]+)")
_ELAPSED = re.compile(r"\[(?:h+|m+|s+)\]", re.I)


def _sheet_rows(zf: zipfile.ZipFile, part: str, strings: list[str], formats: list[str],
                epoch: datetime) -> Iterator[list[str]]:
    from lxml import etree

    try:
        stream = zf.open(part)
    except (KeyError, *ZIP_MEMBER_ERRORS) as exc:
        raise DamagedFile(f"damaged XLSX: sheet {part} cannot be read ({describe(exc)})") from None
    with stream:
        # Only rows raise events ({*}: in any namespace); their cells are read from the row.
        for _, row in etree.iterparse(stream, events=("end",), tag="{*}row", resolve_entities=False,
                                      huge_tree=True, no_network=True):
            cells: dict[int, str] = {}
            pos = 0
            for c in row.iterchildren("{*}c"):
                ref = c.get("r")
                col = _column_index(ref) if ref else pos
                pos = col + 1
                value = _cell_value(c, strings, formats, epoch)
                if value:
                    cells[col] = " ".join(value.split())
            # Free the row (and the ones before it): the tree would otherwise grow with the sheet.
            row.clear()
            while row.getprevious() is not None:
                del row.getparent()[0]
            if cells:
                yield [cells.get(i, "") for i in range(max(cells) + 1)]


@functools.lru_cache(maxsize=4096)
def _column_of(letters: str) -> int:
    n = 0
    for ch in letters or "A":
        n = n * 26 + ord(ch) - 64
    return n - 1


def _column_index(ref: str) -> int:
    """0 for "A1", 27 for "AB7"."""
    return _column_of(ref.rstrip("0123456789").upper())


def _cell_value(c: Any, strings: list[str], formats: list[str], epoch: datetime) -> str:
    kind = c.get("t") or "n"
    if kind == "inlineStr":
        return "".join(_text_of(i) for i in c.iterchildren("{*}is"))
    v = c.findtext("{*}v")
    if not v:
        # A formula with no saved result (files written by openpyxl and other libraries,
        # never opened in Excel): its text, whose words and numbers are still worth finding.
        f = c.findtext("{*}f")
        return f"={f}" if f else ""
    if kind == "s":
        i = int(v)
        return strings[i] if 0 <= i < len(strings) else ""
    if kind == "b":
        return "TRUE" if v.strip() in ("1", "true") else "FALSE"
    if kind in ("str", "e"):
        return v
    try:
        x = float(v)
    except ValueError:
        return v
    style = c.get("s")
    shown = formats[int(style)] if style and style.isdigit() and int(style) < len(formats) else ""
    return shown_number(x, shown, epoch)


def shown_number(x: float, shown: str, epoch: datetime) -> str:
    """A number as its cell shows it: ``shown`` is ``date_kind``'s answer for its format."""
    if shown.startswith("percent"):  # rounded half up, as Excel shows 12.5% in "0%": 13%
        step = Decimal(1).scaleb(-int(shown[7:] or 0))
        return f"{(Decimal(repr(x)) * 100).quantize(step, ROUND_HALF_UP)}%"
    if shown == "elapsed":
        return _duration(x)
    if shown:
        return date_text(x, shown, epoch)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = f"{x:.15g}"
    # Excel's General format writes 0.00001, not 1e-05 (which a search reads as "1e" and "05").
    if "e" in text and 1e-9 <= abs(x) < 1e15:
        text = format(Decimal(text), "f")
    return text


def _duration(days: float) -> str:
    """[h]:mm(:ss): hours past 24 (36:00 for a day and a half), not a time of day."""
    seconds = round(abs(days) * 86400)
    h, rest = divmod(seconds, 3600)
    m, sec = divmod(rest, 60)
    sign = "-" if days < 0 else ""
    return f"{sign}{h}:{m:02d}:{sec:02d}" if sec else f"{sign}{h}:{m:02d}"


def date_text(serial: float, shown: str, epoch: datetime) -> str:
    try:
        # Rounded to the second: a serial is a binary fraction, and 13:45 is 13:44:59.99999
        when = epoch + timedelta(seconds=round(serial * 86400))
    except OverflowError:
        return f"{serial:.15g}"
    if shown == "time" or (shown == "datetime" and serial < 1):
        return when.strftime("%H:%M:%S" if when.second else "%H:%M")
    if shown == "datetime" or when.hour or when.minute:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.strftime("%Y-%m-%d")
