"""OpenDocument presentations (ODP, OTP, flat FODP) read from content.xml with lxml: one
section per draw:page, page = slide number, the title frame's text as heading, then the
other frames' text (tables as "cell | cell"), then the speaker notes ("Notes: ...") as the
PPTX reader gives them."""

from __future__ import annotations

from typing import Any

from app.core.errors import DamagedFile
from app.core.parse import Section
from app.core.parse._common import check_opendocument, clean_prose, describe, open_zip, read_member
from app.core.parse.odt import OFFICE, TABLE, TEXT, _table, _text

DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
_PAGE, _NOTES, _FRAME = DRAW + "page", PRESENTATION + "notes", DRAW + "frame"
_P, _H, _TABLE = TEXT + "p", TEXT + "h", TABLE + "table"
# Frames that show the slide's number, date, header or footer: not its content.
_FURNITURE = frozenset({"page-number", "date-time", "header", "footer", "page"})


def parse(path: str) -> list[Section]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    if path.lower().endswith(".fodp"):  # flat XML: the whole document in one file
        try:
            root = etree.parse(path, parser).getroot()
        except etree.XMLSyntaxError as exc:
            raise DamagedFile(f"damaged FODP: {describe(exc)}") from None
    else:
        with open_zip(path, "ODP") as zf:
            check_opendocument(zf, "ODP", "presentation")
            content = read_member(zf, "content.xml", "ODP")
        try:
            root = etree.fromstring(content, parser)
        except etree.XMLSyntaxError as exc:
            raise DamagedFile(f"damaged ODP: {describe(exc)}") from None
    body = root.find(OFFICE + "body")
    pres = body.find(OFFICE + "presentation") if body is not None else None
    if pres is None:
        return []
    out = []
    try:
        for number, page in enumerate(pres.iterchildren(_PAGE), start=1):
            section = _slide(page, number)
            if section is not None:
                out.append(section)
    except RecursionError:
        raise DamagedFile("damaged ODP: nesting too deep") from None
    return out


def _slide(page: Any, number: int) -> Section | None:
    title = ""
    parts: list[str] = []
    for frame in _frames(page):
        kind = frame.get(PRESENTATION + "class") or ""
        if kind in _FURNITURE:
            continue
        text = _frame_text(frame)
        if not text:
            continue
        if kind == "title" and not title:
            title = " ".join(text.split())
        else:
            parts.append(text)
    notes = page.find(_NOTES)
    if notes is not None:
        said = "\n".join(t for f in _frames(notes) if (f.get(PRESENTATION + "class") or "") == "notes"
                         and (t := _frame_text(f)))
        if said:
            parts.append(f"Notes: {said}")
    text = clean_prose("\n\n".join([title, *parts] if title else parts))
    return Section(text, number, title) if text else None


def _frames(el: Any) -> list[Any]:
    """Frames and shapes with text on a page (inside groups too), not inside the notes."""
    out = []
    stack = [iter(el)]
    while stack:
        for child in stack[-1]:
            tag = child.tag
            if not isinstance(tag, str) or tag == _NOTES:
                continue
            if tag == _FRAME or (tag.startswith(DRAW) and child.find(_P) is not None):
                out.append(child)
            elif tag.startswith(DRAW):  # a group (draw:g) or other container: look inside
                stack.append(iter(child))
                break
        else:
            stack.pop()
    return out


def _frame_text(frame: Any) -> str:
    notes: list[str] = []
    lines = []
    for el in frame.iter(_P, _H, _TABLE):
        if el.tag == _TABLE:
            lines.append(_table(el, notes))
        elif not _inside(el, _TABLE, frame):
            lines.append(_text(el, notes))
    return "\n".join(line for line in lines if line.strip()).strip()


def _inside(el: Any, tag: str, stop: Any) -> bool:
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag == tag:
            return True
        parent = parent.getparent()
    return False
