"""Helpers shared by the format parsers: whitespace clean-up, byte decoding, heading paths.

Imports only the standard library (charset-normalizer lazily), so that a worker which
parses only text files pays for nothing else.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from typing import IO, Any

from app.core.errors import DamagedFile, EncryptedFile, FileTooLarge, UnsupportedFile
from app.core.parse import Section

# Sections longer than this are split at paragraph (else line) boundaries, so that one
# huge log or CSV never becomes one giant string for the chunker.
MAX_SECTION_CHARS = 100_000
# A member of a ZIP container (DOCX, EPUB, ...) that claims to expand past this is a bomb.
MAX_ZIP_MEMBER = 256 * 1024 * 1024
MAX_ZIP_TOTAL = 1024 * 1024 * 1024

_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_OTHER_NEWLINES = "\r\x0b\x0c\x85\u2028\u2029"
# C0 controls except \t and \n, DEL, zero-width characters, BOM, soft hyphen, and U+FFFE
# (pdfium's marker for a word hyphenated at a line end: "dis\ufffetribution").
_JUNK = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff\u00ad\ufffe]")
# Terminal escape sequences (colours and cursor moves in logs, CI output, `script` captures):
# CSI "ESC [ ... m", OSC "ESC ] ... BEL" (window titles, links), and two-byte escapes. Left in,
# "\x1b[1;31mERROR" is the word "31mERROR" once the ESC is gone.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]")
_HSPACE = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_ODD_HSPACE = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")  # not a plain space
_SPACE_NL = re.compile(r" ?\n ?")
_BLANKS = re.compile(r"\n{3,}")


def clean_prose(text: str) -> str:
    """Normalise whitespace in running text: one space between words, single newlines
    kept, at most one blank line ("\\n\\n") between paragraphs."""
    if not text:
        return ""
    # Each rewrite runs only where it would change something: a substring test is ~20x
    # faster than a regex scan of text that needs nothing (most of it), and parsing plain
    # text spent half its time here.
    text = _newlines(text)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if _JUNK.search(text):
        text = _JUNK.sub("", text)
    if "  " in text or _ODD_HSPACE.search(text):
        text = _HSPACE.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _SPACE_NL.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip()


def clean_code(text: str) -> str:
    """Like :func:`clean_prose` but keeps indentation and runs of spaces (source code,
    logs, plain text where layout carries meaning)."""
    if not text:
        return ""
    text = _newlines(text)
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if _JUNK.search(text):
        text = _JUNK.sub("", text)
    # Per-line rstrip, not a regex: "[ \t]+\n" is quadratic on a long run of spaces.
    text = "\n".join([line.rstrip() for line in text.split("\n")])
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip("\n")


def _newlines(text: str) -> str:
    """Every line break as "\\n" (the regex only where one of the other kinds occurs)."""
    if any(c in text for c in _OTHER_NEWLINES):
        return _NEWLINES.sub("\n", text)
    return text


def split_long(sections: list[Section], limit: int = MAX_SECTION_CHARS) -> list[Section]:
    """Split every section longer than ``limit`` at blank lines (else newlines, else hard)."""
    if all(len(s.text) <= limit for s in sections):
        return sections
    out: list[Section] = []
    for s in sections:
        if len(s.text) <= limit:
            out.append(s)
            continue
        text = s.text
        start = 0
        n = len(text)
        while start < n:
            end = min(start + limit, n)
            if end < n:
                cut = text.rfind("\n\n", start + limit // 2, end)
                if cut < 0:
                    cut = text.rfind("\n", start + limit // 2, end)
                if cut > 0:
                    end = cut
            piece = text[start:end].strip()
            if piece:
                out.append(Section(piece, s.page, s.heading))
            start = end
    return out


class HeadingPath:
    """A stack of (level, title) that renders as "A > B > C"."""

    __slots__ = ("_stack",)

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))

    def __str__(self) -> str:
        return " > ".join(t for _, t in self._stack if t)

    @property
    def last(self) -> str:
        return self._stack[-1][1] if self._stack else ""


class SectionBuilder:
    """Collects text parts under the current heading; one Section per heading with a body.

    The heading's own title is the first line of its section's text (so full-text search
    finds it). A heading directly followed by a deeper heading yields no section of its own:
    its title lives on in the sub-heading's path and is carried into the sub-heading's text
    ("Zanzibar handbook\n\nFerries\n\n..."), since search reads the text, not the path. A
    heading with no body and no sub-heading (a title-only document, say) becomes a section
    holding just its title.
    """

    def __init__(self, page: int | None = None, code: bool = False,
                 clean: Callable[[str], str] | None = None) -> None:
        self.sections: list[Section] = []
        self.path = HeadingPath()
        self.page = page
        self._clean = clean or (clean_code if code else clean_prose)
        self._title = ""
        self._carried = ""  # titles of body-less headings above this one
        self._level = 0
        self._parts: list[str] = []
        self._pending: tuple[int, Section] | None = None  # a body-less heading, undecided

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)

    def heading(self, level: int, title: str) -> None:
        self.flush()
        self._carried = ""
        if self._pending is not None:
            if level <= self._pending[0]:
                self.sections.append(self._pending[1])
            else:
                self._carried = self._pending[1].text
        self._pending = None
        title = clean_prose(title).replace("\n", " ")
        self.path.push(level, title)
        self._title = title
        self._level = level

    def flush(self) -> None:
        body = self._clean("\n\n".join(self._parts))
        self._parts = []
        titles = f"{self._carried}\n\n{self._title}" if self._carried and self._title else \
            self._carried or self._title
        if body:
            text = f"{titles}\n\n{body}" if titles else body
            self.sections.append(Section(text, self.page, str(self.path)))
        elif titles:
            self._pending = (self._level, Section(titles, self.page, str(self.path)))
        self._title = ""
        self._carried = ""

    def finish(self) -> list[Section]:
        self.flush()
        if self._pending is not None:
            self.sections.append(self._pending[1])
            self._pending = None
        return self.sections


# --- bytes -> str ----------------------------------------------------------------------

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HIGH = bytes(range(128, 256))


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding named by a byte-order mark and the BOM's length, if there is one."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' (or 'utf-32-le'/'-be') when ``head`` looks like mostly-ASCII
    UTF-16 (or UTF-32) without a BOM."""
    n = len(head) - len(head) % 4
    if n >= 16:
        quarters = [head[i:n:4] for i in range(4)]
        q = n // 4
        for enc, text_at in (("utf-32-le", 0), ("utf-32-be", 3)):
            if all(quarters[i].count(0) >= (0.9 * q if i != text_at else 0) for i in range(4)) \
                    and quarters[text_at].count(0) <= 0.02 * q:
                return enc
    n = len(head) - len(head) % 2
    if n < 8:
        return None
    even, odd = head[0:n:2], head[1:n:2]
    half = n // 2
    for zeros, other, enc in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= 0.9 * half and other.count(0) <= 0.02 * half:
            return enc
    return None


def decode_bytes(data: bytes, declared: str | None = None, strict_binary: bool = False) -> str:
    """Decode text of unknown encoding; never raises on Latin-1, cp1252 or mixed bytes.

    Order: BOM, strict UTF-8, ``declared`` (an HTML/XML charset), UTF-8 with a few bad
    bytes (when most non-ASCII bytes are valid UTF-8), charset-normalizer, then
    cp1252 with replacement. ``strict_binary`` makes charset-normalizer's "this is not
    text" verdict raise :class:`UnsupportedFile` instead of falling back.
    """
    bom = bom_encoding(data)
    if bom:
        return data[bom[1]:].decode(bom[0], errors="replace")
    try:
        # Valid UTF-8 with non-ASCII bytes is almost never anything else, whatever a
        # (often copy-pasted) charset declaration says.
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if "\x1b$" in text:  # 7-bit Japanese or Korean (ISO-2022), common in old mail
            for enc in ("iso2022_jp_ext", "iso2022_kr"):
                if (other := _decode_or_none(data, enc)) is not None:
                    return other
        return text
    if declared:
        declared = _WHATWG_LABELS.get(declared.lower(), declared)
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(data) - len(data.translate(None, _HIGH))
    # Latin-1 text gives one error per accented byte; UTF-8 with a stray byte gives few.
    if bad * 20 <= non_ascii:
        return text
    from charset_normalizer import from_bytes

    # Judged on the lines that hold non-ASCII bytes (up to 256 KB of them): as telling as the
    # whole file and far quicker on a large one (5 s for a 100 MB Latin-1 CSV otherwise).
    sample = _non_ascii_lines(data)
    # UTF-16 and UTF-32 without a BOM were ruled out before (utf16_without_bom); on a few bytes
    # it proposes them for nearly anything.
    matches = [m for m in from_bytes(sample) if not m.encoding.startswith(("utf_16", "utf_32"))]
    if matches and matches[0].encoding:
        return _pick_decoding(data, sample, matches, non_ascii)
    if strict_binary:
        raise UnsupportedFile("binary file, not text")
    return data.decode("cp1252", errors="replace")


# Labels pages declare that Python does not know, or knows as a narrower charset than the
# one browsers use for them (the WHATWG Encoding Standard's mapping).
_WHATWG_LABELS = {
    "iso-8859-1": "cp1252", "iso8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254", "latin5": "cp1254",
    "x-sjis": "cp932", "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "ms_kanji": "cp932",
    "windows-31j": "cp932", "x-euc-jp": "euc_jp", "gb2312": "gb18030", "gbk": "gb18030",
    "x-gbk": "gb18030", "euc-cn": "gb18030", "big5": "big5hkscs", "x-x-big5": "big5hkscs",
    "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "korean": "cp949", "tis-620": "cp874",
    "iso-8859-11": "cp874", "windows-874": "cp874", "x-mac-roman": "mac_roman", "macintosh": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic", "x-cp1250": "cp1250", "x-cp1251": "cp1251",
}

# The accented letters of the languages written in the Latin code pages (lower case). A wrong
# code page gives letters no one language uses together (cp1252 reads Czech as "è ø ì ù").
_LATIN_LETTERS = {
    "fr": "àâæçéèêëîïôœùûüÿ", "de": "äöüßé", "es": "áéíñóúüªº", "pt": "áàâãçéêíóôõúüªº",
    "it": "àèéìíîòóùúªº", "ca": "àçèéíïòóúü·", "nl": "éèëïöüáóê", "da": "æøåéó", "sv": "åäöé",
    "fi": "åäöšž", "is": "áðéíóúýþæö", "et": "õäöüšž", "cs": "áčďéěíňóřšťúůýž",
    "sk": "áäčďéíĺľňóôŕšťúýž", "pl": "ąćęłńóśźż", "hu": "áéíóöőúüű", "sl": "čšžćđ", "hr": "čćđšž",
    "ro": "ăâîșşțţ", "tr": "çğıöşüâîû", "lt": "ąčęėįšųūž", "lv": "āčēģīķļņšūž",
}
_LATIN_SETS = [frozenset(v) for v in _LATIN_LETTERS.values()]
# Latin code pages worth trying besides charset-normalizer's own guesses.
_LATIN_CODE_PAGES = ("cp1252", "cp1250", "iso8859_2", "cp1254", "cp1257", "iso8859_13")
# Symbols a wrong code page puts where a letter was: "zauwa¿yli" (ż), "¹to" (š), "³ódŸ". Not ª,
# º and µ (letters), nor ¡ and ¿ before a word (Spanish).
_SYMBOLS = "\u00a2-\u00a9\u00ab-\u00b4\u00b6-\u00b9\u00bb-\u00be\u00d7\u00f7\u02c7\u02d8\u02db\u02dd"
_MOJIBAKE_SYMBOLS = re.compile(f"(?<=[^\\W\\d_])[\u00a1\u00bf{_SYMBOLS}]|[{_SYMBOLS}](?=[^\\W\\d_])")
# An accented capital inside a lower-case word: "naÔve", "crŤme" (Mac Latin 2 read for Latin-1).
_LATIN_UPPER = "".join(chr(c) for c in range(0xC0, 0x250) if chr(c).isupper())
_LATIN_LOWER = "a-z" + "".join(chr(c) for c in range(0xDF, 0x250) if chr(c).islower())
_CAPITAL_INSIDE = re.compile(f"(?<=[{_LATIN_LOWER}])[{_LATIN_UPPER}]")
_SAMPLE = 256 * 1024  # bytes judged when choosing; the whole text is then decoded once


def _non_ascii_lines(data: bytes) -> bytes:
    if len(data) <= _SAMPLE:
        return data
    lines: list[bytes] = []
    size = 0
    for m in _NON_ASCII_LINE.finditer(data):
        lines.append(m.group())
        size += len(lines[-1])
        if size >= _SAMPLE:
            break
    return b"".join(lines)


_NON_ASCII_LINE = re.compile(rb"[^\n]*[\x80-\xff][^\n]*\n?")


def _pick_decoding(data: bytes, sample: bytes, matches: list[Any], non_ascii: int) -> str:
    """Decode non-UTF-8 bytes given charset-normalizer's ranked guesses.

    Its guess is kept for other scripts (Cyrillic, Greek, Hebrew, Arabic, Thai, CJK). Between
    Latin code pages it often ranks a wrong one first or ties them (cp1250 for German, cp1252
    for Hungarian), and on a few words it guesses nearly anything (UTF-16 for "déjà"). So the
    Latin code page whose letters one language uses together wins, cp1252 (the most common on
    a desktop) breaking ties.
    """
    best = matches[0]
    guess = sample.decode(best.encoding, errors="replace")
    if _latin_share(guess) >= 0.5:
        return data.decode(_best_latin(sample, matches)[1], errors="replace")
    # Another script, unless cp1252 reads as Latin words (not words of accented letters only,
    # as Cyrillic gives: "ãèìíàçèè") and charset-normalizer's guess rests on a few bytes or is a
    # single-byte code page.
    west = _decode_or_none(sample, "cp1252")
    western = west is not None and _latin_share(west) >= 0.5 and _mixed_word_share(west) >= 0.7
    if non_ascii < 16:
        fit, enc = _best_latin(sample, matches)
        if fit >= 0.99 or (western and fit >= 0.5):
            return data.decode(enc, errors="replace")
    elif western and len(guess) == len(sample):
        return data.decode(_best_latin(sample, matches)[1], errors="replace")
    return data.decode(best.encoding, errors="replace")


def _best_latin(sample: bytes, matches: list[Any]) -> tuple[float, str]:
    """The Latin code page (of a few common ones and the guesses) whose reading fits one
    language best, and how well; cp1252, then the guesses' order, break ties."""
    names = dict.fromkeys([*_LATIN_CODE_PAGES, *(m.encoding for m in matches[:8])])
    scored: list[tuple[float, int, str]] = []
    for rank, name in enumerate(names):
        text = _decode_or_none(sample, name)
        if text is not None and _latin_share(text) >= 0.5:
            scored.append((round(_language_fit(text), 2), -rank, name))
    if not scored:
        return 0.0, "cp1252"
    fit, _, name = max(scored)
    return fit, name


def _language_fit(text: str) -> float:
    """How well the text's accented letters fit one language's alphabet (1.0: all of them);
    controls and symbols stuck to letters count against it."""
    chars = [ch.lower() for ch in text if ord(ch) > 127 and (ch.isalpha() or ord(ch) < 160 or ch == "\ufffd")]
    misplaced = len(_MOJIBAKE_SYMBOLS.findall(text)) + len(_CAPITAL_INSIDE.findall(text))
    total = len(chars) + misplaced
    if not total:
        return 1.0
    counts = Counter(chars)
    return max(sum(n for ch, n in counts.items() if ch in letters) for letters in _LATIN_SETS) / total


def _decode_or_none(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def _non_ascii_letters(text: str) -> list[str]:
    return [ch for ch in text if ord(ch) > 127 and ch.isalpha()]


def _latin_share(text: str) -> float:
    """The share of non-ASCII letters that are Latin ones (1.0 where there are none)."""
    letters = _non_ascii_letters(text)
    if not letters:
        return 1.0
    return sum(ch in "ªºµ" or unicodedata.name(ch, "").startswith("LATIN") for ch in letters) / len(letters)


_WORD_RE = re.compile(r"\w+")


def _mixed_word_share(text: str) -> float:
    """The share of words with non-ASCII letters that have ASCII letters or digits too: high for
    Western text ("café", "1ª"), low for another script read as cp1252 ("ãèìíàçèè")."""
    mixed = total = 0
    for w in _WORD_RE.findall(text):
        if w.isascii():
            continue
        total += 1
        mixed += any(ch.isascii() for ch in w)
    return mixed / total if total else 1.0


_CHARSET_RE = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)


def declared_charset(head: bytes) -> str | None:
    """The charset an HTML <meta> or XML declaration names in the first bytes, if valid."""
    m = _CHARSET_RE.search(head[:4096])
    if not m:
        return None
    name = m.group(1).decode("ascii").lower()
    name = _WHATWG_LABELS.get(name, name)
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    # A page that says "utf-16" but reached us without a BOM is really ASCII-compatible.
    return None if name.startswith(("utf-16", "utf-32", "utf16", "utf32")) else name


# --- ZIP containers --------------------------------------------------------------------

# An OLE compound file: how Office saves a password-protected DOCX/PPTX/XLSX (and the old formats).
_DGM = "{http://schemas.openxmlformats.org/drawingml/2006/diagram}"
_DRAWING_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
DIAGRAM_URI = "http://schemas.openxmlformats.org/drawingml/2006/diagram"
DIAGRAM_RELS = _DGM + "relIds"  # in a drawing: its r:dm attribute names the diagram's data part
RELS_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def diagram_lines(xml: bytes) -> list[str]:
    """The text of a SmartArt diagram's data part (Word, PowerPoint): one line per paragraph
    of its nodes, in the data model's order."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=True)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    lines = []
    for t in root.iter(_DGM + "t"):
        for p in t.iter(_DRAWING_A + "p"):
            line = " ".join("".join(x.text or "" for x in p.iter(_DRAWING_A + "t")).split())
            if line:
                lines.append(line)
    return lines


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_ole(path: str, label: str, needed: str, optional: tuple[str, ...] = ()) -> dict[str, bytes]:
    """The streams ``needed`` and those of ``optional`` that exist, read whole from an OLE
    compound file (a Word, Excel or PowerPoint 97-2003 file). DamagedFile if it cannot be
    read; UnsupportedFile if ``needed`` is not there (another program's OLE file)."""
    import olefile

    try:
        ole = olefile.OleFileIO(path)
    except OSError as exc:
        raise DamagedFile(f"damaged {label}: {describe(exc)}") from None
    try:
        if not ole.exists(needed):
            raise UnsupportedFile(f"an OLE file with no {needed} stream (not a {label})")
        return {name: ole.openstream(name).read() for name in (needed, *optional) if ole.exists(name)}
    except OSError as exc:
        raise DamagedFile(f"damaged {label}: {describe(exc)}") from None
    finally:
        ole.close()


def ole_kind(path: str) -> str | None:
    """"doc", "xls" or "ppt" for a Word, Excel or PowerPoint 97-2003 file (an OLE compound
    file), by the streams in it; None for any other OLE file (Outlook, an installer...)."""
    import olefile

    try:
        with olefile.OleFileIO(path) as ole:
            if ole.exists("WordDocument"):
                return "doc"
            if ole.exists("Workbook") or ole.exists("Book"):
                return "xls"
            if ole.exists("PowerPoint Document"):
                return "ppt"
            return None
    except (OSError, ValueError, IndexError):  # damaged: no Office kind to tell (its reader says why)
        return None


def open_zip(data_or_path: str | IO[bytes], label: str) -> zipfile.ZipFile:
    """Open a ZIP container, refusing non-ZIPs and bombs with a user-facing error."""
    try:
        zf = zipfile.ZipFile(data_or_path)
    except zipfile.BadZipFile as exc:
        raise DamagedFile(f"damaged or truncated {label}: not a valid ZIP container ({exc})") from None
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > MAX_ZIP_MEMBER or total > MAX_ZIP_TOTAL:
            zf.close()
            raise FileTooLarge(f"{label} expands to more than {max(info.file_size, total) >> 20} MB")
        # Judged here, from the directory, so reading a part later cannot stop on either.
        if info.flag_bits & 0x1:
            zf.close()
            raise EncryptedFile(f"password-protected {label} (its ZIP parts are encrypted)")
        if info.compress_type not in _ZIP_METHODS:
            zf.close()
            raise UnsupportedFile(f"{label} packed with a ZIP compression method Python cannot read "
                                  f"(method {info.compress_type}); open and save it again")
    return zf


_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})


def check_opendocument(zf: zipfile.ZipFile, label: str, what: str) -> None:
    """What every OpenDocument package (ODT, ODS) must pass before its content.xml is read:
    not encrypted, and content.xml there."""
    names = set(zf.namelist())
    manifest = "META-INF/manifest.xml"
    if manifest in names and b"encryption-data" in read_member(zf, manifest, label):
        raise EncryptedFile(f"password-protected {label} {what}")
    if "content.xml" not in names:
        raise DamagedFile(f"damaged {label}: content.xml is missing")


# What reading a damaged member of a ZIP container raises: a bad CRC or header, a stream cut
# short, a corrupt deflate stream. (Encryption and unknown methods are refused by open_zip.)
ZIP_MEMBER_ERRORS = (zipfile.BadZipFile, EOFError, ValueError, zlib.error)


def read_member(zf: zipfile.ZipFile, name: str, label: str) -> bytes:
    try:
        return zf.read(name)
    except KeyError:
        raise DamagedFile(f"damaged {label}: part {name} is missing") from None
    except ZIP_MEMBER_ERRORS as exc:
        raise DamagedFile(f"damaged or truncated {label}: {describe(exc)}") from None


def describe(exc: BaseException) -> str:
    """A short, one-line description of a library exception for a user-facing message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
