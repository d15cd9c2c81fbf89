"""OpenDocument text (ODT) read directly from content.xml with zipfile + lxml.

text:h headings (with their outline level) drive the heading path; paragraphs, lists,
sections and tables (rows as "cell | cell") are read in document order. Generated
indexes (table of contents...), tracked deletions and comments are skipped; footnote
and endnote bodies are gathered into a last "Notes" section.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.core.errors import DamagedFile
from app.core.parse import Section
from app.core.parse._common import SectionBuilder, check_opendocument, describe, open_zip, read_member

TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
SVG = "{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}"
_H, _P, _TABLE = TEXT + "h", TEXT + "p", TABLE + "table"
_ROW, _CELL = TABLE + "table-row", TABLE + "table-cell"
_NOTE, _NOTE_BODY = TEXT + "note", TEXT + "note-body"
_SKIP_BLOCKS = frozenset({
    TEXT + n for n in ("table-of-content", "illustration-index", "alphabetical-index", "bibliography",
                       "user-index", "object-index", "table-index", "tracked-changes", "sequence-decls",
                       "variable-decls", "user-field-decls", "dde-connection-decls")
} | {OFFICE + "forms", OFFICE + "annotation", TABLE + "table-columns", TABLE + "table-column"})
# Inside a paragraph: no text of their own worth indexing.
_SKIP_INLINE = frozenset({OFFICE + "annotation", TEXT + "note-citation", SVG + "title", SVG + "desc",
                          TEXT + "tracked-changes"})


def parse(path: str) -> list[Section]:
    from lxml import etree

    with open_zip(path, "ODT") as zf:
        check_opendocument(zf, "ODT", "document")
        content = read_member(zf, "content.xml", "ODT")
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise DamagedFile(f"damaged ODT: {describe(exc)}") from None
    body = root.find(OFFICE + "body")
    if body is None or len(body) == 0:
        return []
    notes: list[str] = []
    out = SectionBuilder()
    try:
        _walk(body[0], out, notes)
    except RecursionError:
        raise DamagedFile("damaged ODT: nesting too deep") from None
    if notes:
        out.heading(1, "Notes")
        out.add("\n\n".join(notes))
    return out.finish()


def _walk(start: Any, out: SectionBuilder, notes: list[str]) -> None:
    stack = [iter(start)]
    while stack:
        for el in stack[-1]:
            tag = el.tag
            if tag == _P:
                out.add(_text(el, notes))
            elif tag == _H:
                level = _int(el.get(TEXT + "outline-level"), 1)
                title = _text(el, notes)
                if title.strip():
                    out.heading(level, title)
            elif tag == _TABLE:
                out.add(_table(el, notes))
            elif tag in _SKIP_BLOCKS or not isinstance(tag, str):
                continue
            else:  # lists, list items, sections, frames...: look inside
                stack.append(iter(el))
                break
        else:
            stack.pop()


def _table(table: Any, notes: list[str]) -> str:
    rows = []
    for row in _rows(table):
        cells = [" ".join(_cell_words(cell, notes)) for cell in row.iterchildren(_CELL)]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _rows(table: Any) -> Iterator[Any]:
    """The table's own rows (also inside header-rows, row groups...), not a nested table's."""
    for el in table:
        if el.tag == _ROW:
            yield el
        elif el.tag in _ROW_GROUPS:
            yield from _rows(el)


_ROW_GROUPS = frozenset(TABLE + n for n in ("table-header-rows", "table-rows", "table-row-group"))


def _cell_words(parent: Any, notes: list[str]) -> Iterator[str]:
    """A cell's paragraphs and nested tables, each once: a frame's paragraphs inside a
    paragraph are that paragraph's text (``_text``); a nested table is read as a table."""
    for el in parent:
        if el.tag in (_P, _H):
            yield " ".join(_text(el, notes).split())
        elif el.tag == _TABLE:
            yield " ".join(_table(el, notes).split())
        elif isinstance(el.tag, str) and el.tag not in _SKIP_BLOCKS:  # lists, sections
            yield from _cell_words(el, notes)


def _text(el: Any, notes: list[str]) -> str:
    parts: list[str] = []
    _collect(el, parts, notes)
    return "".join(parts)


def _collect(el: Any, parts: list[str], notes: list[str]) -> None:
    if el.text:
        parts.append(el.text)
    for child in el:
        tag = child.tag
        if tag == TEXT + "s":
            parts.append(" " * min(_int(child.get(TEXT + "c"), 1), 100))
        elif tag == TEXT + "tab":
            parts.append("\t")
        elif tag == TEXT + "line-break":
            parts.append("\n")
        elif tag == _NOTE:
            body = child.find(_NOTE_BODY)
            if body is not None:
                note = " ".join(" ".join(_text(p, notes).split()) for p in body.iter(_P, _H)).strip()
                if note:
                    notes.append(note)
        elif tag in _SKIP_INLINE or not isinstance(tag, str):
            pass
        elif tag in (_P, _H):  # a paragraph inside a frame/text box in this paragraph
            parts.append(" ")
            _collect(child, parts, notes)
            parts.append(" ")
        else:
            _collect(child, parts, notes)
        if child.tail:
            parts.append(child.tail)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
