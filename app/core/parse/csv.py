"""CSV and TSV: encoding and dialect sniffed; each row becomes one line
"header: value; header: value", in sections of ROWS_PER_SECTION rows.

The first row is taken as the header (csv.Sniffer.has_header is unreliable on text
columns, and a header-less export still reads acceptably this way). A file the csv
module cannot split (an unclosed quote, say) is indexed as plain text instead.
"""

from __future__ import annotations

import collections
import csv
import io
from collections.abc import Iterable

from app.core.parse import Section
from app.core.parse._common import clean_code
from app.core.parse.text import decode_text_file

ROWS_PER_SECTION = 50
SNIFF_CHARS = 64 * 1024
MAX_FIELD = 16 * 1024 * 1024


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    text = decode_text_file(data)
    tab_default = path.lower().endswith((".tsv", ".tab"))
    try:
        return _rows(text, _dialect(text[:SNIFF_CHARS], tab_default))
    except csv.Error:
        plain = clean_code(text)
        return [Section(plain, None)] if plain else []


def _dialect(sample: str, tab_default: bool) -> type[csv.Dialect]:
    """excel (","), excel_tab or a ";"/"|" variant: the delimiter whose count per line is
    the most consistent over the first lines. (csv.Sniffer is not used: its regexes take
    seconds to minutes on some 64 KB samples.)"""
    lines = [line for line in sample.splitlines()[:100] if line.strip()]
    if len(lines) > 1 and len(sample) >= SNIFF_CHARS:
        lines = lines[:-1]  # the sample may end mid-line
    best, best_score = "\t" if tab_default else ",", (0, 0)
    for delim in (",", ";", "\t", "|"):
        counts = collections.Counter(line.count(delim) for line in lines)
        mode, agree = counts.most_common(1)[0] if counts else (0, 0)
        score = (agree, mode) if mode else (0, 0)
        if score > best_score:
            best, best_score = delim, score
    if best == "\t":
        return csv.excel_tab
    if best == ",":
        return csv.excel
    return type("sniffed", (csv.excel,), {"delimiter": best})


def _rows(text: str, dialect: type[csv.Dialect]) -> list[Section]:
    # The limit guards against a runaway quoted field; the csv module keeps it process-wide.
    if csv.field_size_limit() < MAX_FIELD:
        csv.field_size_limit(MAX_FIELD)
    return rows_to_sections(csv.reader(io.StringIO(text, newline=""), dialect))


def rows_to_sections(rows: Iterable[list[str]], heading: str = "") -> list[Section]:
    """Table rows as sections of "header: value; header: value" lines (ROWS_PER_SECTION a
    section), the first non-empty row taken as the header. Spreadsheets use it too."""
    header: list[str] = []
    sections: list[Section] = []
    lines: list[str] = []
    for row in rows:
        if not header:
            header = [" ".join(h.split()) for h in row]
            if not any(header):
                header = []
                continue
            header = [h or f"column {i + 1}" for i, h in enumerate(header)]
            continue
        cells = [" ".join(v.split()) for v in row]
        if not any(cells):
            continue
        names = header if len(header) >= len(cells) else header + [
            f"column {i + 1}" for i in range(len(header), len(cells))]
        lines.append("; ".join(f"{n}: {v}" for n, v in zip(names, cells, strict=False) if v))
        if len(lines) >= ROWS_PER_SECTION:
            sections.append(Section("\n".join(lines), None, heading))
            lines = []
    if lines:
        sections.append(Section("\n".join(lines), None, heading))
    if not sections and header:  # a header and nothing else
        sections.append(Section("; ".join(header), None, heading))
    return sections

