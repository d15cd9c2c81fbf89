"""PDF through pypdfium2 (PDFium): one section per page, 1-based page numbers kept.

Chosen over pypdf after measuring both on the shared corpus (bench/PARSERS.md): about
10x faster, and it rebuilds a broken cross-reference table by itself. pypdfium2 is
not thread-safe; each parse worker is a process that uses it alone.

Section headings come from the PDF's outline (bookmarks) when it has one: a page's
heading path is that of the last bookmark that starts on or before it.
"""

from __future__ import annotations

import bisect
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile, NoTextLayer, UnreadableFile
from app.core.parse import Section
from app.core.parse._common import HeadingPath, clean_prose, describe

# A document averaging fewer letters or digits per page than this (over 3+ pages), or
# with none at all, is a scan: its few characters are stray labels, not its content.
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
    outline = _outline(doc)
    starts = [p for p, _, _ in outline]
    path = HeadingPath()
    applied = 0
    sections: list[Section] = []
    alnum = 0  # letters and digits, counted only until the no-text-layer bar is passed
    need = MIN_CHARS_PER_PAGE * max(n_pages, 1)
    failed = 0
    for i in range(n_pages):
        # Bookmarks starting on or before this page set its heading path.
        upto = bisect.bisect_right(starts, i)
        while applied < upto:
            _, level, title = outline[applied]
            path.push(level, title)
            applied += 1
        try:
            page = doc[i]
            try:
                textpage = page.get_textpage()
                try:
                    raw = textpage.get_text_range()
                finally:
                    textpage.close()
            finally:
                page.close()
        except (pdfium.PdfiumError, ValueError, OSError, AssertionError):
            failed += 1  # one bad page costs that page, not the file
            continue
        text = clean_prose(raw)
        if text:
            if alnum < need:
                alnum += sum(c.isalnum() for c in text[: need * 4])
            sections.append(Section(text, i + 1, str(path)))
    if n_pages and failed == n_pages:
        raise DamagedFile(f"damaged PDF: none of its {n_pages} pages could be read")
    if n_pages and (alnum == 0 or (n_pages >= 3 and alnum < MIN_CHARS_PER_PAGE * n_pages)):
        raise NoTextLayer("PDF has no text layer (scanned images?)",
                          "Run OCR on it (e.g. ocrmypdf) to make its text searchable.")
    return sections


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
