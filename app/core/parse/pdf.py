"""PDF through pypdfium2 (PDFium): sections per page, 1-based page numbers kept.

Chosen over pypdf after measuring both on the shared corpus (bench/PARSERS.md): about
10x faster, and it rebuilds a broken cross-reference table by itself. pypdfium2 is
not thread-safe; each parse worker is a process that uses it alone.

Section headings come from the PDF's outline (bookmarks) when it has one: a page is split
where a bookmark's title starts a line, each part under the bookmarks before it. A file is refused as
a scan ("no text layer") when it has no text, or little text on pages most of which are
covered by an image; little text alone (short slides, blank pages) is read.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile, NoTextLayer, UnreadableFile
from app.core.parse import Section
from app.core.parse._common import HeadingPath, clean_prose, describe

# A document averaging fewer letters or digits per page than this (over 3+ pages) whose pages
# are mostly covered by images, or with none at all, is a scan: its few characters are stray
# labels, not its content.
MIN_CHARS_PER_PAGE = 10
MAX_BOOKMARKS = 10_000


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    return parse_bytes(data)


def parse_bytes(data: bytes) -> list[Section]:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        # From memory, not the path: read errors stay Python OSErrors, and PDFium never
        # sees a file name it might mis-encode.
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFile("password-protected PDF",
                                "Remove the password (print to PDF) to have it indexed.") from None
        if code == pdfium_c.FPDF_ERR_FILE:
            raise UnreadableFile("cannot read the PDF") from None
        raise DamagedFile("damaged or truncated PDF (no readable page tree)") from None
    try:
        return _extract(doc)
    finally:
        doc.close()


def _extract(doc: Any) -> list[Section]:
    import pypdfium2 as pdfium

    n_pages = len(doc)
    sections: list[Section] = []
    alnum = 0  # letters and digits, counted only until the no-text-layer bar is passed
    need = MIN_CHARS_PER_PAGE * max(n_pages, 1)
    failed = 0
    for i in range(n_pages):
        try:
            raw = _page_text(doc[i])
        except (pdfium.PdfiumError, ValueError, OSError, AssertionError):
            failed += 1  # one bad page costs that page, not the file
            continue
        text = clean_prose(raw)
        if text:
            if alnum < need:  # the whole page: its first characters may be a rule line ("=====")
                alnum += sum(c.isalnum() for c in text)
            sections.append(Section(text, i + 1, ""))
    if n_pages and failed == n_pages:
        raise DamagedFile(f"damaged PDF: none of its {n_pages} pages could be read")
    sparse = n_pages >= 3 and alnum < MIN_CHARS_PER_PAGE * n_pages
    if n_pages and (alnum == 0 or (sparse and _mostly_scanned(doc))):
        raise NoTextLayer("PDF has no text layer (scanned images?)",
                          "Run OCR on it (e.g. ocrmypdf) to make its text searchable.")
    return _at_bookmarks(_without_running_lines(sections), _outline(doc))


def _at_bookmarks(pages: list[Section], outline: list[tuple[int, int, str]]) -> list[Section]:
    """Give each page's text its heading path, split where a bookmark's title starts a line.

    A section that starts halfway down a page owns only the text below its title; the text
    above it is the end of the section before. Labelled by the page's last bookmark, most of
    a page carried the wrong heading (107 of debian-faq.pdf's 165 bookmarks labelled no text),
    which the search results, the answer prompt and the vectors all took in. A title not found
    on its page (drawn as an image, worded otherwise) applies from where the split has got to."""
    path = HeadingPath()
    out: list[Section] = []
    b = 0
    for page in pages:
        i = (page.page or 1) - 1
        while b < len(outline) and outline[b][0] < i:  # bookmarks of pages without text
            path.push(outline[b][1], outline[b][2])
            b += 1
        lines = page.text.split("\n")
        keys: list[str] | None = None
        start = 0
        while b < len(outline) and outline[b][0] == i:
            _, level, title = outline[b]
            b += 1
            keys = keys if keys is not None else [_title_key(line) for line in lines]
            j = _title_line(keys, _title_key(title), start)
            if j is not None and j > start:
                before = "\n".join(lines[start:j]).strip()
                # A line or two is no passage of its own: the page's running header above the
                # first title, or a title straight above its first sub-section's (whose words
                # then stay searchable with the text below).
                if len(before) >= SHORTEST_PART_CHARS:
                    out.append(Section(before, page.page, str(path)))
                    start = j
            path.push(level, title)
        rest = "\n".join(lines[start:]).strip() if start else page.text
        if rest:
            out.append(Section(rest, page.page, str(path)))
    return out


def _title_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _title_line(keys: list[str], title: str, start: int) -> int | None:
    """The first line at or after ``start`` that begins with ``title`` (after a section number
    such as "3.1.10"), the title's first words on it when it wraps onto the next line."""
    head = title[:40]
    if not head:
        return None
    for j in range(start, len(keys)):
        line = keys[j]
        if len(line) < len(head) and j + 1 < len(keys):
            line = f"{line} {keys[j + 1]}"
        at = line.find(head)
        if 0 <= at <= 12 and not any(c.isalpha() for c in line[:at]):
            return j
    return None


_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"[-–—\s]*(?:(?:page|p\.|pg\.|seite|página|pagina|page no\.)\s*)?#"
                          r"(?:\s*(?:of|/|von|de|di|sur)\s*#)?[-–—\s]*")
RUNNING_MIN_PAGES = 4
SHORTEST_PART_CHARS = 120  # the least text a bookmark's title splits off a page


def _without_running_lines(sections: list[Section]) -> list[Section]:
    """Drop the running header and footer lines (the title, "Page 3 of 40") from every page but
    the first that has them: repeated on each page, they matched every page of the document
    for a word of the title, and pushed the passages that are about it down. A line counts as
    running when it opens (or ends) at least half of the pages, numbers aside."""
    if len(sections) < RUNNING_MIN_PAGES:
        return sections
    lines = [s.text.split("\n") for s in sections]

    def key(line: str) -> str:
        text = " ".join(line.split()).casefold()
        if len(text) > 100:
            return ""  # a paragraph, not a running line
        # Page numbers differ on every page: "12", "Page 3 of 40", "- 7 -", "Seite 2 von 9".
        return "#" if _PAGE_NUMBER.fullmatch(_DIGITS.sub("#", text)) else text

    bar = max(3, len(sections) // 2)
    running: set[tuple[str, str]] = set()
    for end, index in (("top", (0, 1)), ("bottom", (-1, -2))):
        for i in index:
            counts: dict[str, int] = {}
            for ls in lines:
                if len(ls) > 2:
                    k = key(ls[i])
                    counts[k] = counts.get(k, 0) + 1
            running |= {(end, k) for k, n in counts.items() if n >= bar and k}
    if not running:
        return sections
    seen: set[tuple[str, str]] = set()
    out = []
    for s, ls in zip(sections, lines, strict=True):
        keep = list(ls)
        for end in ("top", "bottom"):
            looked = 0  # up to two lines at each end: a title line and a page number line, say
            while looked < 2 and len(keep) > 1:
                i = looked if end == "top" else -1 - looked
                k = (end, key(keep[i]))
                if k not in running:
                    break
                if k in seen:
                    del keep[i]
                else:
                    seen.add(k)  # kept where it is first seen: the title stays findable once
                    looked += 1
        out.append(s if len(keep) == len(ls) else Section("\n".join(keep).strip(), s.page, s.heading))
    return [s for s in out if s.text]


def _page_text(page: Any) -> str:
    """A page's text as it reads. A page turned by /Rotate gave its lines in reverse; glyphs
    its font maps to no character come back as their glyph numbers (stray Greek letters glued
    to the words around them) and are replaced by spaces."""
    import pypdfium2.raw as pdfium_c

    try:
        if page.get_rotation():
            page.set_rotation(0)  # (this copy of the page only: the file is not written)
        textpage = page.get_textpage()
        try:
            raw = textpage.get_text_range()
            n = textpage.count_chars()
            unmapped = pdfium_c.FPDFText_HasUnicodeMapError
            # Most pages have no unmapped glyph: a sample (every 5th character, so a run of five
            # is seen; ~0.1 ms a page) decides whether to read the page character by character.
            if n and any(unmapped(textpage.raw, k) == 1 for k in range(0, n, 5)):
                if len(raw) == n:  # one character of the text per glyph: only the flags are needed
                    chars = [(unmapped(textpage.raw, k) == 1, ch) for k, ch in enumerate(raw)]
                else:
                    code = pdfium_c.FPDFText_GetUnicode
                    chars = [(unmapped(textpage.raw, k) == 1, _char(code(textpage.raw, k))) for k in range(n)]
                # Only beside text that is mapped: a page whose every glyph is "unmapped" is a
                # Type 3 font PDFium reads by its glyph names, or one it cannot read at all.
                if any(c.isalnum() for bad, c in chars if not bad):
                    raw = "".join(" " if bad else c for bad, c in chars)
        finally:
            textpage.close()
    finally:
        page.close()
    # Symbol fonts' bullets and the pieces of big brackets come as private-use characters, and
    # unreadable glyphs as U+FFFD: neither is text anyone searches for.
    return _NOT_TEXT.sub(" ", raw) if _NOT_TEXT.search(raw) else raw


_NOT_TEXT = re.compile("[\ue000-\uf8ff\ufffd]")


def _char(code: int) -> str:
    """A character PDFium read glyph by glyph. Glyph 3 is the space of most subset fonts: as a
    control character it would be dropped, gluing two words (other control characters, such as
    the soft hyphen mark 2, are dropped as before)."""
    if code == 3:
        return " "
    try:
        return chr(code) if code else ""
    except (ValueError, OverflowError):
        return ""


def _mostly_scanned(doc: Any, sample: int = 20) -> bool:
    """Whether most pages (of up to ``sample`` spread over the document) are covered by an
    image: a scan, whose few characters are stray labels. A deck of short slides, a page of
    text among drawings or blank pages has little text but no such images, and is read."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    n = len(doc)
    picks = sorted({round(k * (n - 1) / max(sample - 1, 1)) for k in range(min(sample, n))})
    scanned = 0
    for i in picks:
        page = doc[i]
        try:
            width, height = page.get_size()
            area = max(width * height, 1.0)
            for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
                left, bottom, right, top = obj.get_bounds()
                if (right - left) * (top - bottom) >= 0.5 * area:
                    scanned += 1
                    break
        except (pdfium.PdfiumError, ValueError, OSError, AssertionError):  # not looked at: not counted
            pass
        finally:
            page.close()
    return scanned * 2 > len(picks)


def _outline(doc: Any) -> list[tuple[int, int, str]]:
    """(page index, level, title) of the bookmarks, sorted by page, document order kept."""
    items: list[tuple[int, int, str]] = []
    try:
        for n, bm in enumerate(doc.get_toc()):
            if n >= MAX_BOOKMARKS:
                break
            dest = bm.get_dest()
            index = dest.get_index() if dest is not None else None
            title = " ".join((bm.get_title() or "").split())
            if index is not None and index >= 0 and title:
                items.append((index, bm.level, title))
    except Exception as exc:  # a broken outline only costs the headings
        import logging

        logging.getLogger(__name__).debug("PDF outline unreadable: %s", describe(exc))
        return items
    items.sort(key=lambda t: t[0])  # stable: bookmarks of one page keep their order
    return items
