"""RTF through striprtf, with \\'xx escapes decoded in the declared code page."""

from __future__ import annotations

import codecs
import re

from app.core.errors import DamagedFile, UnsupportedFile
from app.core.parse import Section
from app.core.parse._common import clean_prose, describe

_ANSICPG = re.compile(rb"\\ansicpg(\d{1,5})")
_LONG_LINE = 4096
# Groups holding pictures or embedded objects: megabytes of hex, never text.
_BINARY_GROUP = re.compile(
    r"\{\\(?:\*\\)?(?:pict|object|objdata|blipuid|shppict|nonshppict|datastore|themedata)\b")
_GROUP_TOKEN = re.compile(r"\\[{}\\]|\\bin(\d+) ?|[{}]")
_CELL_BREAK = re.compile(r"\s*\n\|")
_CELL_END = re.compile(r"[ \t]*\|[ \t]*(?=\n|$)")
_CELL = re.compile(r"[ \t]*\|[ \t]*")


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    if b"\x00" in data[:8192]:
        raise UnsupportedFile("binary file, not RTF")
    codepage = "cp1252"
    m = _ANSICPG.search(data[:8192])
    if m:
        name = "utf-8" if m.group(1) == b"65001" else f"cp{int(m.group(1))}"
        try:
            codecs.lookup(name)
            codepage = name
        except LookupError:
            pass
    # RTF is 7-bit with \'xx escapes; stray 8-bit bytes are in the document's code page.
    text = data.decode(codepage, errors="replace")
    if not text.lstrip().startswith("{\\rtf"):
        text = "{\\rtf1\\ansi " + text + "}"  # an RTF fragment (or plain text) named .rtf
    text = _drop_binary_groups(text)
    if len(text) > _LONG_LINE and max(map(len, text.split("\n"))) > _LONG_LINE:
        # striprtf runs a hyperlink regex line by line whose cost grows with the square
        # of the line length; RTF ignores newlines, so give it short lines.
        text = text.replace("}", "}\n")
    from striprtf.striprtf import rtf_to_text

    try:
        plain = rtf_to_text(text, encoding=codepage, errors="replace")
    except (ValueError, LookupError, IndexError, RecursionError) as exc:
        raise DamagedFile(f"damaged RTF: {describe(exc)}") from None
    # striprtf ends each table cell with "|" and each row with a newline.
    plain = _CELL.sub(" | ", _CELL_END.sub("", _CELL_BREAK.sub(" |", clean_prose(plain))))
    return [Section(plain, None)] if plain else []


def _drop_binary_groups(text: str) -> str:
    """Remove picture/object groups by brace matching (striprtf chokes on some, e.g. a
    \\bin without a length, and is slow on megabytes of hex)."""
    if not _BINARY_GROUP.search(text):
        return text
    out: list[str] = []
    pos = 0
    while True:
        m = _BINARY_GROUP.search(text, pos)
        if not m:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:m.start()])
        depth = 0
        i = m.start()
        end = len(text)
        while True:
            tok = _GROUP_TOKEN.search(text, i)
            if tok is None:
                break
            i = tok.end()
            if tok.group(1):  # \binN: N raw bytes that may contain braces
                i += int(tok.group(1))
            elif tok.group() == "{":
                depth += 1
            elif tok.group() == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        pos = end
        if pos >= len(text):
            return "".join(out)
