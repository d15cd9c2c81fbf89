"""RTF through striprtf, with \\'xx escapes decoded in the declared code page."""

from __future__ import annotations

import codecs
import re

from app.core.errors import DamagedFile, UnsupportedFile
from app.core.parse import Section
from app.core.parse._common import clean_prose, describe

_ANSICPG = re.compile(rb"\\ansicpg(\d{1,5})")
# The character set a header names when it has no \ansicpg (DOS and old Mac documents).
_CHARSET_WORD = re.compile(rb"\\(mac|pca|pc)(?![a-z])")
_CHARSET_CODEPAGES = {b"mac": "mac_roman", b"pc": "cp437", b"pca": "cp850"}
# Mac code pages by number, which Python knows by name.
_MAC_CODEPAGES = {10000: "mac_roman", 10001: "cp932", 10002: "cp950", 10003: "cp949", 10004: "mac_arabic",
                  10005: "cp1255", 10006: "mac_greek", 10007: "mac_cyrillic", 10008: "gb18030",
                  10010: "mac_romanian", 10017: "mac_cyrillic", 10021: "cp874", 10029: "mac_latin2",
                  10079: "mac_iceland", 10081: "mac_turkish", 10082: "mac_croatian"}
# striprtf maps a font's \fcharset to codec names Python lacks (Mac Japanese, Mac Korean...),
# and one \'xx in such a font failed the whole document: the nearest codecs Python has.
_FCHARSET_CODECS = {78: "cp932", 79: "cp950", 80: "cp949", 82: "cp1255", 85: "gb18030", 86: "mac_romanian",
                    87: "mac_cyrillic", 88: "cp874", 89: "mac_latin2", 130: "johab"}
_ANSICPG_TEXT = re.compile(r"\\ansicpg\d{1,5} ?")
_UC_WITHOUT_COUNT = re.compile(r"\\uc(?![0-9-])")
_LONG_LINE = 4096
# Groups holding pictures or embedded objects: megabytes of hex, never text.
_BINARY_GROUP = re.compile(
    r"\{\\(?:\*\\)?(?:pict|object|objdata|blipuid|shppict|nonshppict|datastore|themedata)\b")
_GROUP_TOKEN = re.compile(r"\\[{}\\]|\\bin(\d+) ?|[{}]")
_EMPTY_ROW = re.compile(r"^[ \t]*(?:\|[ \t]*)+$\n?", re.M)
_CELL_BREAK = re.compile(r"(?<![|\s])\s*\n\|")  # a cell ending in a paragraph mark, not a new row
# In a row (a line that ends with a cell mark): runs of empty cells, and an empty first cell.
_EMPTY_CELLS = re.compile(r"\|(?:[ \t]*\|)+(?=.*\|[ \t]*$)|^[ \t]*\|[ \t]*(?=\S.*\|[ \t]*$)", re.M)
_CELL_END = re.compile(r"[ \t]*\|[ \t]*(?=\n|$)")
_CELL = re.compile(r"[ \t]*\|[ \t]*")
# \uN beyond Unicode (a damaged or hand-made file) made chr() fail the whole document.
_UNICODE_ESCAPE = re.compile(r"\\u(-?\d+)")
# Text that striprtf drops with its group but a reader wants found: footnotes and endnotes,
# comments, and the text of text boxes (inside an ignorable \*\shpinst; the same text's
# fallback copy in \shprslt stays ignored). Moved to the end of the document, like notes.
_NOTE_GROUP = re.compile(r"\{\\(?:\*\\)?(footnote|annotation|shptxt)\b ?")


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    if b"\x00" in data[:8192]:
        raise UnsupportedFile("binary file, not RTF")
    codepage = "cp1252"
    m = _ANSICPG.search(data[:8192])
    if m:
        number = int(m.group(1))
        name = "utf-8" if number == 65001 else _MAC_CODEPAGES.get(number, f"cp{number}")
        try:
            codecs.lookup(name)
            codepage = name
        except LookupError:
            pass
    elif (w := _CHARSET_WORD.search(data[:200])) is not None:
        codepage = _CHARSET_CODEPAGES[w.group(1)]
    # RTF is 7-bit with \'xx escapes; stray 8-bit bytes are in the document's code page.
    text = data.decode(codepage, errors="replace")
    if not text.lstrip().startswith("{\\rtf"):
        text = "{\\rtf1\\ansi " + text + "}"  # an RTF fragment (or plain text) named .rtf
    text = _UC_WITHOUT_COUNT.sub(r"\\uc1", _drop_binary_groups(text))  # \uc with no count (1 is RTF's default)
    text = _UNICODE_ESCAPE.sub(_in_unicode_range, _notes_at_end(text))
    # The code page found above is passed on; striprtf would turn \ansicpg10000 into "cp10000",
    # which Python lacks, and fall back to UTF-8.
    text = _ANSICPG_TEXT.sub(" ", text, count=1)
    if len(text) > _LONG_LINE and max(map(len, text.split("\n"))) > _LONG_LINE:
        # striprtf runs a hyperlink regex line by line whose cost grows with the square
        # of the line length; RTF ignores newlines, so give it short lines.
        text = text.replace("}", "}\n")
    from striprtf import striprtf

    striprtf.charset_map.update(_FCHARSET_CODECS)
    rtf_to_text = striprtf.rtf_to_text
    try:
        plain = rtf_to_text(text, encoding=codepage, errors="replace")
    except (ValueError, LookupError, IndexError, RecursionError) as exc:
        raise DamagedFile(f"damaged RTF: {describe(exc)}") from None
    # striprtf ends each table cell with "|" and each row with a newline.
    # Rows with no text go, and so do the empty cells of a row.
    plain = _CELL_BREAK.sub(" |", _EMPTY_ROW.sub("", clean_prose(plain)))
    plain = _CELL.sub(" | ", _CELL_END.sub("", _EMPTY_CELLS.sub(_empty_cells, plain))).strip()
    return [Section(plain, None)] if plain else []


def _empty_cells(m: re.Match[str]) -> str:
    return "|" if m.group().startswith("|") and m.start() and m.string[m.start() - 1] != "\n" else ""


def _in_unicode_range(m: re.Match[str]) -> str:
    n = int(m.group(1))
    return m.group() if -0x8000 <= n <= 0x10FFFF else "\\u65533"


def _notes_at_end(text: str) -> str:
    """Footnotes, comments and text-box text, out of their place and appended as paragraphs."""
    if not _NOTE_GROUP.search(text):
        return text
    out: list[str] = []
    notes: list[str] = []
    pos = 0
    while (m := _NOTE_GROUP.search(text, pos)) is not None:
        out.append(text[pos:m.start()])
        end = _group_end(text, m.start())
        notes.append("{\\pard " + text[m.end():end])  # the group without its destination word
        pos = end
    out.append(text[pos:])
    body = "".join(out).rstrip()
    if body.endswith("}"):  # inside the document's own group, so striprtf reads them
        return body[:-1] + "\\par " + "\\par ".join(notes) + "}"
    return body + "\\par " + "\\par ".join(notes)


def _group_end(text: str, start: int) -> int:
    """Index just past the group that opens at ``start`` (or the end of a truncated text)."""
    depth = 0
    i = start
    while (tok := _GROUP_TOKEN.search(text, i)) is not None:
        i = tok.end()
        if tok.group(1):  # \binN: N raw bytes that may contain braces
            i += int(tok.group(1))
        elif tok.group() == "{":
            depth += 1
        elif tok.group() == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _drop_binary_groups(text: str) -> str:
    """Remove picture/object groups by brace matching (striprtf chokes on some, e.g. a
    \\bin without a length, and is slow on megabytes of hex)."""
    if not _BINARY_GROUP.search(text):
        return text
    out: list[str] = []
    pos = 0
    while (m := _BINARY_GROUP.search(text, pos)) is not None:
        out.append(text[pos:m.start()])
        pos = _group_end(text, m.start())
    out.append(text[pos:])
    return "".join(out)
