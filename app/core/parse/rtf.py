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
_CELL_BREAK = re.compile(r"\s*\n\|")
_CELL_END = re.compile(r"[ \t]*\|[ \t]*(?=\n|$)")
_CELL = re.compile(r"[ \t]*\|[ \t]*")


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
