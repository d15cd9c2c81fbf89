"""Plain text and source code, in any encoding; also the sniffer for unknown extensions."""

from __future__ import annotations

import html
import re
import unicodedata

from app.core.errors import UnsupportedFile
from app.core.parse import Section
from app.core.parse._common import (
    OLE_MAGIC,
    bom_encoding,
    clean_code,
    declared_charset,
    decode_bytes,
    utf16_without_bom,
)

SNIFF_BYTES = 8192

# Leading bytes of common binary formats -> the reason shown for a file without a
# telling extension. (PDF is not here: a PDF without ".pdf" is parsed as a PDF.)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image (no text to index)"),
    (b"\xff\xd8\xff", "image (no text to index)"),
    (b"GIF87a", "image (no text to index)"),
    (b"GIF89a", "image (no text to index)"),
    (b"II*\x00", "image (no text to index)"),
    (b"MM\x00*", "image (no text to index)"),
    (b"PK\x03\x04", "ZIP archive or office document without a known extension"),
    (b"\x1f\x8b", "compressed file (not indexed)"),
    (b"BZh", "compressed file (not indexed)"),
    (b"\xfd7zXZ\x00", "compressed file (not indexed)"),
    (b"(\xb5/\xfd", "compressed file (not indexed)"),
    (b"7z\xbc\xaf\x27\x1c", "archive (not indexed)"),
    (b"Rar!\x1a\x07", "archive (not indexed)"),
    (b"\x7fELF", "program or library (binary)"),
    (b"\xca\xfe\xba\xbe", "program or library (binary)"),
    (b"\xcf\xfa\xed\xfe", "program or library (binary)"),
    (b"SQLite format 3\x00", "database file (binary)"),
    (b"OggS", "audio or video (no text to index)"),
    (b"ID3", "audio (no text to index)"),
    (b"fLaC", "audio (no text to index)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office file that is not Word, Excel or PowerPoint (not supported)"),
)
# An mbox separator: "From " at the start of a line, then an address or "MAILER-DAEMON".
MBOX_FROM_LINE = re.compile(rb"From \S+")
# Control bytes that never appear in text (tab, LF, CR, FF, ESC and backspace do).
_CONTROL = bytes(b for b in range(32) if b not in (8, 9, 10, 12, 13, 27))


def looks_like_mbox(head: bytes) -> bool:
    """True for the first bytes of an mbox file (Thunderbird keeps its folders in files
    without an extension): a "From " line, then header lines."""
    if not MBOX_FROM_LINE.match(head):
        return False
    lines = head.split(b"\n", 3)[1:3]
    return bool(lines) and all(b":" in ln.split(b" ", 1)[0] or ln[:1] in (b" ", b"\t") for ln in lines)


def looks_like_html(head: bytes) -> bool:
    """True for the first bytes of an HTML page: "<!DOCTYPE html" or "<html" after any BOM,
    whitespace and comments."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    while start.startswith(b"<!--") and (end := start.find(b"-->")) >= 0:
        start = start[end + 3:].lstrip()
    return start.startswith((b"<!doctype html", b"<html"))


def binary_reason(head: bytes) -> str | None:
    """Why the first bytes of a file say it is not text, or None if it may be text."""
    for magic, reason in _MAGIC:
        if head.startswith(magic):
            return reason
    if bom_encoding(head) or utf16_without_bom(head):
        return None
    if b"\x00" in head:
        return "binary file, not text"
    # ISO-2022-KR text shifts in and out of Korean with control bytes (SO, SI).
    controls = _CONTROL if b"\x1b$)C" not in head else _CONTROL.replace(b"\x0e\x0f", b"")
    if head and len(head) - len(head.translate(None, controls)) > len(head) // 10:
        return "binary file, not text"
    return None


def _sections(text: str) -> list[Section]:
    text = clean_code(text)
    return [Section(text, None)] if text else []


_MARKUP_STARTS = (b"<?xml", b"<!DOCTYPE", b"<!doctype", b"<html", b"<HTML")


def decode_text_file(data: bytes, strict_binary: bool = False) -> str:
    """Decode the bytes of a file that should be text; UnsupportedFile if they are binary."""
    reason = binary_reason(data[:SNIFF_BYTES])
    if reason:
        raise UnsupportedFile(reason)
    enc = None if bom_encoding(data) else utf16_without_bom(data[:SNIFF_BYTES])
    if enc:
        return data.decode(enc, errors="replace")
    # Markup read as text (an .xml file, an HTML page with another name) says its encoding.
    declared = declared_charset(data[:4096]) if data[:200].lstrip().startswith(_MARKUP_STARTS) else None
    return decode_bytes(data, declared, strict_binary=strict_binary)


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    text = decode_text_file(data)
    ext = path.rsplit(".", 1)[-1].lower()
    if ext in _UNICODE_ESCAPED and "\\u" in text:
        text = unescape_unicode(text)
    elif ext in _XML and "&" in text:
        text = _XML_REFERENCE.sub(lambda m: html.unescape(m.group()), text)
    elif ext in _LATEX and "\\" in text:
        text = latex_letters(text)
    return _sections(text)


# BibTeX exports (Google Scholar, DBLP, Zotero) and LaTeX write accented letters as macros:
# "M{\"u}ller", "Garc{\'\i}a", "Dvo{\v{r}}{\'a}k", "Gro{\ss}".
_LATEX = frozenset(["bib", "tex", "latex", "ltx"])
_ACCENTS = {'"': "\u0308", "'": "\u0301", "`": "\u0300", "^": "\u0302", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_LATEX_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ",
                  "OE": "Œ", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}
# \"u, \"{u}, \v r, \v{r}, \'\i, each also inside braces ({\"u}); a letter accent (\v, \c...)
# must be followed by a space or a brace (\cite is not \c and "ite").
_ACCENT = r"""\\(?:(["'`^~=.])\s*|([uvHckrdb])(?:\s+|(?=\{)))(?:\{(\\[ij]|[A-Za-z])\}|(\\[ij](?![A-Za-z])|[A-Za-z]))"""
_LATEX_ACCENT = re.compile(rf"\{{{_ACCENT}\}}|{_ACCENT}")
_LATEX_LETTER = re.compile(
    r"\{\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L|i|j)\}|\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![A-Za-z])(?:\{\}| )?")


def latex_letters(text: str) -> str:
    """LaTeX's accent macros and special letters as the letters they stand for."""
    return _LATEX_LETTER.sub(_special_letter, _LATEX_ACCENT.sub(_accented, text))


def _accented(m: re.Match[str]) -> str:
    g = m.groups()
    accent, letter = (g[0] or g[1], g[2] or g[3]) if g[0] or g[1] else (g[4] or g[5], g[6] or g[7])
    base = letter[1] if letter.startswith("\\") else letter  # \i and \j lose their dot under an accent
    return unicodedata.normalize("NFC", base + _ACCENTS[accent])


def _special_letter(m: re.Match[str]) -> str:
    return _LATEX_LETTERS[m.group(1) or m.group(2)]


# XML read as text: "Caf&#233;" and "M&amp;S" are what the file says (numeric and predefined
# references only; the names HTML adds mean nothing in XML).
_XML = frozenset(["xml", "xsd", "xsl", "xslt", "rng", "wsdl", "xaml", "xul", "rss", "atom", "opml", "kml",
                  "gpx", "plist", "resx", "csproj", "vbproj", "fsproj", "vcxproj", "props", "targets", "pom"])
_XML_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|apos);")


# JSON written with ASCII only (Python's json default, API dumps, data exports) and Java
# .properties (native2ascii) spell every other character as \uXXXX.
_UNICODE_ESCAPED = frozenset(["json", "jsonc", "json5", "jsonl", "ndjson", "geojson", "properties"])
# After splitting at escaped backslashes ("\\u0041" is a backslash and "u0041"), every "\u" left
# is an escape: the raw-unicode-escape codec decodes them in C. A piece it refuses ("\U", or
# "\u" without four hex digits) is decoded one run at a time.
_U_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4})+")
# Facebook and Instagram exports escape each UTF-8 byte ("\u00c3\u00a9" for "é").
_ESCAPED_UTF8 = re.compile(r"\\u00[c-fC-F][0-9a-fA-F]\\u00[89abAB][0-9a-fA-F]")
_UTF8_AS_LATIN1 = re.compile("[\xc2-\xf4][\x80-\xbf]{1,3}")


def unescape_unicode(text: str) -> str:
    """``text`` with its \\uXXXX escapes decoded (an emoji's two halves are joined, as every
    reader's, by ``parse_file``)."""
    pieces = text.split("\\\\")
    for i, piece in enumerate(pieces):
        if "\\u" in piece:
            pieces[i] = _unescape_piece(piece)
    return "\\\\".join(pieces)


def _unescape_piece(piece: str) -> str:
    try:
        if "\\U" in piece:
            raise ValueError
        out = piece.encode("raw_unicode_escape").decode("raw_unicode_escape")
    except (ValueError, UnicodeDecodeError):
        out = _U_ESCAPES.sub(lambda m: "".join(chr(int(h, 16)) for h in m.group().split("\\u")[1:]), piece)
    if _ESCAPED_UTF8.search(piece):
        out = _UTF8_AS_LATIN1.sub(_utf8_bytes, out)
    return out


def _utf8_bytes(m: re.Match[str]) -> str:
    try:
        return m.group().encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return m.group()


def parse_unknown(path: str) -> list[Section]:
    """A file with an unknown or no extension: sniff the first 8 KB, then read it as text."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        if head.startswith(b"%PDF-"):
            from app.core.parse import pdf

            return pdf.parse_bytes(head + f.read())
        if looks_like_mbox(head):
            from app.core.parse import mail

            return mail.parse_mbox(path)
        if looks_like_html(head):  # a mirrored page named "viewtopic.php?t=123"
            from app.core.parse.html import parse as parse_html_file

            return parse_html_file(path)
        reason = binary_reason(head)
        if reason:
            if head.startswith(OLE_MAGIC):
                from app.core.parse import doc, ppt, xls
                from app.core.parse._common import ole_kind

                kind = ole_kind(path)  # an Office file without its extension
                if kind is not None:
                    return {"doc": doc.parse, "xls": xls.parse, "ppt": ppt.parse}[kind](path)
            raise UnsupportedFile(reason)
        data = head + f.read()
    return _sections(decode_text_file(data, strict_binary=True))
