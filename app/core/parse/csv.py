"""CSV and TSV: encoding and dialect sniffed; each row becomes one line
"header: value; header: value", in sections of ROWS_PER_SECTION rows.

The first row is taken as the header (csv.Sniffer.has_header is unreliable on text
columns, and a header-less export still reads acceptably this way); lines above the table
with far fewer fields, or only the first filled (a title, comments), are text before it. A file the csv module
cannot split (an unclosed quote, say) is indexed as plain text instead.
"""

from __future__ import annotations

import collections
import csv
import io
import itertools
import re
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
    # The limit guards against a runaway quoted field; the csv module keeps it process-wide.
    if csv.field_size_limit() < MAX_FIELD:
        csv.field_size_limit(MAX_FIELD)
    m = _SEP_LINE.match(text)  # Excel's "sep=;" first line names the delimiter
    try:
        if m:
            delimiter, fields = m.group(1), 0
            text = text[m.end():]
        else:
            delimiter, fields = _dialect(text[:SNIFF_CHARS], tab_default)
        dialect = csv.excel_tab if delimiter == "\t" else type("sniffed", (csv.excel,), {"delimiter": delimiter})
        return _rows(text, dialect, fields)
    except csv.Error:
        plain = clean_code(text)
        return [Section(plain, None)] if plain else []


_SEP_LINE = re.compile(r"\ufeff?sep=([,;\t|])[ \t]*\r?\n")
_DELIMITERS = (",", ";", "\t", "|")


def _dialect(sample: str, tab_default: bool) -> tuple[str, int]:
    """The delimiter whose number of fields per record is the most consistent over the
    first records (split by the csv module, so quoted delimiters and line breaks count
    right), and that number. Tab wins ties in a .tsv. (csv.Sniffer is not used: its regexes
    take seconds to minutes on some 64 KB samples.)"""
    if len(sample) >= SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rindex("\n")]  # the sample may end mid-record
    order = ("\t", *(d for d in _DELIMITERS if d != "\t")) if tab_default else _DELIMITERS
    best, best_score = order[0], (0, 0)
    for delim in order:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delim)
        counts = collections.Counter(len(row) for row in itertools.islice(reader, 100) if any(row))
        fields, agree = counts.most_common(1)[0] if counts else (1, 0)
        score = (agree, fields) if fields > 1 else (0, 0)
        if score > best_score:
            best, best_score = delim, score
    return best, best_score[1]


def _rows(text: str, dialect: type[csv.Dialect], fields: int) -> list[Section]:
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    # Lines above the table (a report's title, "# comments") have far fewer fields than its
    # records, or only their first field filled (a spreadsheet's export pads them with
    # commas): they are text, not the header every record would be labelled with.
    preamble: list[str] = []
    above: list[list[str]] = []  # the rows taken as preamble, in case the table is all like them
    for row in reader:
        few = len(row) * 2 <= fields or not any(v.strip() for v in row[1:])
        if not (fields > 1 and few):
            above.append(row)
            break
        if len(above) == _MAX_PREAMBLE:  # not a preamble: a table whose rows are mostly empty
            preamble = []
            above.append(row)
            break
        above.append(row)
        if line := " ".join(" ".join(row).split()):
            preamble.append(line)
    else:
        preamble = []  # the whole file is such rows: a table all the same
    first = above[-1:] if preamble else above
    sections = [Section("\n".join(preamble), None)] if preamble else []
    return sections + rows_to_sections(itertools.chain(first, reader))


_MAX_PREAMBLE = 20


def rows_to_sections(rows: Iterable[list[str]], heading: str = "") -> list[Section]:
    """Table rows as sections of "header: value; header: value" lines (ROWS_PER_SECTION a
    section), the first non-empty row taken as the header. Spreadsheets use it too."""
    header: list[str] = []
    sections: list[Section] = []
    lines: list[str] = []
    filled: set[int] = set()  # columns that have a value somewhere
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
        filled.update(i for i, v in enumerate(cells) if v)
        if len(lines) >= ROWS_PER_SECTION:
            sections.append(Section("\n".join(lines), None, heading))
            lines = []
    if lines:
        sections.append(Section("\n".join(lines), None, heading))
    if not sections and header:  # a header and nothing else
        sections.append(Section("; ".join(header), None, heading))
    elif sections and any(i not in filled and not h.startswith("column ") for i, h in enumerate(header)):
        # A column with a name and no values yet (a form to fill in, "Remarks"): its name is
        # in no "name: value" pair, so the header row opens the table.
        first = sections[0]
        sections[0] = Section("; ".join(header) + "\n" + first.text, first.page, first.heading)
    return sections

