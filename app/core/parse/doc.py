"""Word 97-2003 documents (.doc, .dot), read from the binary format itself ([MS-DOC]).

The file is an OLE compound file (opened with olefile). Its WordDocument stream starts
with the File Information Block, which says where the piece table is: a list of text
runs, each stored as 8-bit (cp1252) or UTF-16 at some offset of the WordDocument stream.
The main text, the footnotes, the endnotes and the text boxes are read, less tracked
deletions (found in the character formatting); page headers and footers are skipped (as for
DOCX), and so are comments. Field codes keep only their
result ("click here", not 'HYPERLINK "http://..."'). Styles are not read, so a .doc has
no heading paths.

Many ".doc" files are something else under that name: RTF, HTML or a DOCX (Word and
other programs save them so); those are read as what they are. Word 6 and 95 files
(before the piece table was always there) are read when they were not fast-saved.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from app.core.errors import DamagedFile, EncryptedFile, UnsupportedFile
from app.core.parse import Section
from app.core.parse._common import OLE_MAGIC, clean_prose, describe, read_ole

_W_IDENT = 0xA5EC
_F_ENCRYPTED, _F_WHICH_TABLE, _F_OBFUSCATED, _F_COMPLEX = 0x0100, 0x0200, 0x8000, 0x0004
_CLX = 33  # index of fcClx/lcbClx among the FIB's (offset, size) pairs
_BTE_CHPX = 12  # fcPlcfBteChpx: where the character formatting's pages are listed
_SPRM_DELETED = 0x0800  # sprmCFRMarkDel: a tracked deletion, still in the file
_OPERAND_SIZE = {0: 1, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2, 7: 3}  # by a sprm's top 3 bits; 6: sized
# fibRgLw: character counts of the document's parts, in the order their text is stored.
_MAIN, _FOOTNOTES, _HEADERS, _MACROS, _COMMENTS, _ENDNOTES, _TEXTBOXES, _HEADER_TEXTBOXES = range(3, 11)
_KEEP = (_MAIN, _FOOTNOTES, _ENDNOTES, _TEXTBOXES)
_NOISE = str.maketrans({
    "\x01": None, "\x02": None, "\x03": None, "\x04": None, "\x05": None, "\x08": None,  # anchors, objects
    "\x1e": "-", "\x1f": None,  # non-breaking and optional hyphens
    "\x0b": "\n", "\x0c": "\n\n", "\x0e": "\n\n",  # line, page and column breaks
    "\r": "\n\n",  # paragraph marks
})


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        head = f.read(8)
    if not head.startswith(OLE_MAGIC):
        return _not_really_doc(path, head)
    streams = read_ole(path, "Word document", "WordDocument", ("0Table", "1Table"))
    try:
        text = _text(streams)
    except (struct.error, IndexError, ValueError) as exc:
        raise DamagedFile(f"damaged Word document: {describe(exc)}") from None
    text = clean_prose(_drop_field_codes(_tables(text)).translate(_NOISE))
    return [Section(text, None)] if text else []


def _not_really_doc(path: str, head: bytes) -> list[Section]:
    """A .doc that is RTF, HTML or a DOCX under the old name: read as what it is."""
    from app.core.parse import docx, html, rtf, text

    if head.startswith(b"{\\rtf"):
        return rtf.parse(path)
    if head.startswith(b"PK\x03\x04"):
        return docx.parse(path)
    with open(path, "rb") as f:
        start = f.read(1024).lstrip().lower()
    if start.startswith((b"<html", b"<!doctype", b"<?xml", b"<head", b"<meta")):
        return html.parse(path)
    if text.binary_reason(start) is None:
        return text.parse(path)
    raise DamagedFile("not a Word document (no Word, RTF or HTML content)")


def _text(streams: dict[str, bytes]) -> str:
    word = streams["WordDocument"]
    ident, nfib = struct.unpack_from("<HH", word, 0)
    if ident != _W_IDENT:
        raise DamagedFile("damaged Word document (no Word header)")
    flags = struct.unpack_from("<H", word, 0x0A)[0]
    if flags & (_F_ENCRYPTED | _F_OBFUSCATED):
        raise EncryptedFile("password-protected Word document",
                            "Remove the password (save a copy without it) to have it indexed.")
    if nfib < 101:  # Word 6 and 95: text between fcMin and fcMac, unless fast-saved
        if flags & _F_COMPLEX:
            raise UnsupportedFile("fast-saved Word 6/95 document (not supported; save it as DOCX)")
        fc_min, fc_mac = struct.unpack_from("<II", word, 0x18)
        return word[fc_min:fc_mac].decode("cp1252", "replace")
    csw = struct.unpack_from("<H", word, 0x20)[0]
    pos = 0x22 + 2 * csw
    cslw = struct.unpack_from("<H", word, pos)[0]
    counts = struct.unpack_from(f"<{cslw}i", word, pos + 2)
    pos += 2 + 4 * cslw
    cb = struct.unpack_from("<H", word, pos)[0]
    if cb <= _CLX:
        raise DamagedFile("damaged Word document (no piece table)")
    fc_clx, lcb_clx = struct.unpack_from("<II", word, pos + 2 + 8 * _CLX)
    table_name = "1Table" if flags & _F_WHICH_TABLE else "0Table"
    table = streams.get(table_name)
    if table is None:
        raise DamagedFile(f"damaged Word document (no {table_name} stream)")
    pieces = _piece_table(table[fc_clx:fc_clx + lcb_clx])
    fc_bte, lcb_bte = struct.unpack_from("<II", word, pos + 2 + 8 * _BTE_CHPX)
    deleted = _deleted_ranges(word, table[fc_bte:fc_bte + lcb_bte])
    # The parts' text is stored one after another in CP order: main, footnotes, headers, ...
    parts: list[tuple[int, int]] = []
    start = 0
    for i in range(_MAIN, _HEADER_TEXTBOXES + 1):
        n = max(counts[i], 0) if i < len(counts) else 0
        if i in _KEEP and n:
            parts.append((start, start + n))
        start += n
    return "\r".join(_range(word, pieces, a, b, deleted) for a, b in parts)


def _piece_table(clx: bytes) -> list[tuple[int, int, int, bool]]:
    """(first CP, last CP, offset in WordDocument, 8-bit) of each text run."""
    pos = 0
    while pos < len(clx) and clx[pos] == 0x01:  # Prc: formatting, skipped
        pos += 3 + struct.unpack_from("<h", clx, pos + 1)[0]
    if pos >= len(clx) or clx[pos] != 0x02:
        raise DamagedFile("damaged Word document (no piece table)")
    lcb = struct.unpack_from("<I", clx, pos + 1)[0]
    plc = clx[pos + 5:pos + 5 + lcb]
    n = (len(plc) - 4) // 12
    if n <= 0:
        raise DamagedFile("damaged Word document (empty piece table)")
    cps = struct.unpack_from(f"<{n + 1}I", plc, 0)
    out = []
    for i in range(n):
        fc = struct.unpack_from("<I", plc, 4 * (n + 1) + 8 * i + 2)[0]
        compressed = bool(fc & 0x40000000)
        offset = (fc & 0x3FFFFFFF) // 2 if compressed else fc & 0x3FFFFFFF
        out.append((cps[i], cps[i + 1], offset, compressed))
    return out


def _range(word: bytes, pieces: list[tuple[int, int, int, bool]], a: int, b: int,
           deleted: Sequence[tuple[int, int]] = ()) -> str:
    """The text of characters [a, b) across the pieces that hold them, less the bytes of
    ``deleted`` (tracked deletions: Word keeps them in the file, shown struck through)."""
    out = []
    for first, last, offset, compressed in pieces:
        lo, hi = max(a, first), min(b, last)
        if lo >= hi:
            continue
        width = 1 if compressed else 2
        start = offset + width * (lo - first)
        for x, y in _kept(start, start + width * (hi - lo), deleted):
            x, y = x - (x - start) % width, y - (y - start) % width  # whole characters
            out.append(word[x:y].decode("cp1252" if compressed else "utf-16-le", "replace"))
    return "".join(out)


def _kept(start: int, end: int, deleted: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) without the ranges in ``deleted`` (sorted, not overlapping)."""
    out = []
    for x, y in deleted:
        if y <= start or x >= end:
            continue
        if x > start:
            out.append((start, x))
        start = max(start, y)
    if start < end:
        out.append((start, end))
    return out


def _deleted_ranges(word: bytes, plc: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the WordDocument stream whose characters are tracked deletions, from
    the character formatting: PlcBteChpx lists 512-byte pages (ChpxFkp) of runs, each run's
    properties a list of sprms. A page that cannot be read costs only its deletions."""
    n = (len(plc) - 4) // 8
    if n <= 0:
        return []
    out: list[tuple[int, int]] = []
    for i in range(n):
        pn = struct.unpack_from("<I", plc, 4 * (n + 1) + 4 * i)[0] & 0x3FFFFF
        page = word[pn * 512:pn * 512 + 512]
        if len(page) < 512:
            continue
        crun = page[511]
        for r in range(crun):
            fc_a, fc_b = struct.unpack_from("<II", page, 4 * r)
            at = 2 * page[4 * (crun + 1) + r]
            if at and _marked_deleted(page[at + 1:at + 1 + page[at]]):
                out.append((fc_a, fc_b))
    out.sort()
    return out


def _marked_deleted(grpprl: bytes) -> bool:
    pos = 0
    while pos + 2 <= len(grpprl):
        sprm = struct.unpack_from("<H", grpprl, pos)[0]
        pos += 2
        spra = sprm >> 13
        size = grpprl[pos] + 1 if spra == 6 and pos < len(grpprl) else _OPERAND_SIZE.get(spra, 1)
        if sprm == _SPRM_DELETED:
            return pos < len(grpprl) and grpprl[pos] == 1
        pos += size
    return False


def _tables(text: str) -> str:
    # A cell ends with \x07 and a row with one more: cells " | ", rows a line each.
    return text.replace("\x07\x07", "\n").replace("\x07", " | ")


def _drop_field_codes(text: str) -> str:
    """Fields are \\x13 code \\x14 result \\x15 (nested at will): keep the results only."""
    if "\x13" not in text:
        return text
    out: list[str] = []
    stack: list[bool] = []  # per open field: is its result showing yet?
    for ch in text:
        if ch == "\x13":
            stack.append(False)
        elif ch == "\x14" and stack:
            stack[-1] = True
        elif ch == "\x15" and stack:
            stack.pop()
        elif all(stack):
            out.append(ch)
    return "".join(out)
