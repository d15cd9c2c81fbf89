"""Word DOCX through python-docx: body paragraphs and tables in document order.

python-docx opens and validates the package; the body is then read straight from its
lxml tree (much faster than building a python-docx object per run). Headings come from
the "Heading 1..9" and "Title" styles or any style/paragraph with an outline level.
Automatic numbers ("4.2", "(b)") are put back in front of their paragraphs
(``docx_numbering``). Tracked deletions and text moved away are left out; equations and
SmartArt text are read; footnotes and endnotes are appended as a last section; page headers
and footers are skipped.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from app.core.errors import DamagedFile, EncryptedFile, ParseError
from app.core.parse import Section
from app.core.parse._common import (
    DIAGRAM_RELS,
    OLE_MAGIC,
    RELS_NS,
    SectionBuilder,
    describe,
    diagram_lines,
    ole_kind,
    open_zip,
    read_member,
)
from app.core.parse.docx_numbering import Numbering, inherited

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _TBL, _SDT, _SDT_CONTENT, _TR, _TC = W + "p", W + "tbl", W + "sdt", W + "sdtContent", W + "tr", W + "tc"
_T, _TAB, _BR, _CR, _NOBREAK_HYPHEN = W + "t", W + "tab", W + "br", W + "cr", W + "noBreakHyphen"
_PPR, _PSTYLE, _OUTLINE, _VAL = W + "pPr", W + "pStyle", W + "outlineLvl", W + "val"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_MATH_T = "{http://schemas.openxmlformats.org/officeDocument/2006/math}t"  # an equation's text
# Text a tracked change moved or deleted: the document as it now reads has it elsewhere or not at all.
_GONE = (W + "moveFrom", W + "del")
_HEADING_NAME = re.compile(r"heading\s*([1-9])$", re.I)
_STRICT_DOC = b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"
_STRICT_NS = (
    (b"http://purl.oclc.org/ooxml/wordprocessingml/main", b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships",
     b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
)


def _xml_parser() -> Any:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(OLE_MAGIC):
        # An OLE container with a .docx name: a Word 97 file renamed, or a password-protected
        # DOCX (Office encrypts the package into an OLE file).
        from app.core.parse import doc

        if ole_kind(path) == "doc":
            return doc.parse(path)
        raise EncryptedFile("password-protected Word document",
                            "Remove the password (save a copy without it) to have it indexed.")
    zf = open_zip(io.BytesIO(data), "DOCX")
    from docx.opc.exceptions import PackageNotFoundError

    _accept_word_variants()
    try:
        try:
            # Not docx.Document(): it refuses any content type but a plain DOCX's, so macro-enabled
            # documents (.docm) and templates (.dotx, .dotm) were "damaged".
            from docx.package import Package

            document = Package.open(io.BytesIO(data)).main_document_part.document
        except KeyError:
            if _STRICT_DOC not in read_member(zf, "_rels/.rels", "DOCX"):
                raise
            return _read_strict(zf)
        body = document.element.body
        _inline_diagrams(body, lambda rid: document.part.related_parts[rid].blob)
        styles = _safe(lambda: document.styles.element)
        numbering = _safe(lambda: document.part.numbering_part.element)
        notes = [rel.target_part.blob for rel in document.part.rels.values()
                 if not rel.is_external and rel.reltype.endswith(("/footnotes", "/endnotes"))]
        return _read(body, styles, notes, numbering)
    except PackageNotFoundError:
        raise DamagedFile("damaged DOCX: no Word document inside the package") from None
    except RecursionError:
        raise DamagedFile("damaged DOCX: nesting too deep") from None
    except ParseError:
        raise
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors... on bad parts
        raise DamagedFile(f"damaged or truncated DOCX: {describe(exc)}") from None


# The main part's content type in a macro-enabled document and in templates: read as a DOCX's.
_WORD_VARIANTS = (
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
)


def _accept_word_variants() -> None:
    from docx.opc.part import PartFactory
    from docx.parts.document import DocumentPart

    for ct in _WORD_VARIANTS:
        PartFactory.part_type_for.setdefault(ct, DocumentPart)


def _read_strict(zf: zipfile.ZipFile) -> list[Section]:
    """A "Strict Open XML" DOCX (other namespaces), which python-docx cannot open: read
    its parts directly after mapping the strict namespaces to the transitional ones."""
    from lxml import etree

    def load(name: str) -> Any:
        return etree.fromstring(_strict_to_transitional(read_member(zf, name, "DOCX")), _xml_parser())

    rels = load("_rels/.rels")
    target = next((r.get("Target", "") for r in rels if r.get("Type", "").endswith("/officeDocument")), "")
    name = target.lstrip("/") or "word/document.xml"
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    root = load(name)
    body = root.find(W + "body")
    if body is None:
        raise DamagedFile("damaged DOCX: the document has no body")
    names = set(zf.namelist())
    styles = load(folder + "styles.xml") if folder + "styles.xml" in names else None
    notes = [_strict_to_transitional(read_member(zf, folder + n, "DOCX"))
             for n in ("footnotes.xml", "endnotes.xml") if folder + n in names]
    numbering = load(folder + "numbering.xml") if folder + "numbering.xml" in names else None
    return _read(body, styles, notes, numbering)


def _strict_to_transitional(xml: bytes) -> bytes:
    for strict, transitional in _STRICT_NS:
        xml = xml.replace(strict, transitional)
    return xml


def _safe(get: Callable[[], Any]) -> Any:
    try:
        return get()
    except Exception:
        return None


def _read(body: Any, styles: Any, notes_xml: list[bytes], numbering: Any = None) -> list[Section]:
    levels = _style_levels(styles) if styles is not None else {}
    numbers = Numbering(numbering, styles) if numbering is not None else None
    _drop_fallbacks(body)
    _drop_moved_away(body)
    out = SectionBuilder()
    drop_cap = ""  # Word keeps a drop cap letter in a paragraph of its own
    for el in _blocks(body):
        if el.tag == _P:
            text = _para_text(el)
            label = numbers.label(el) if numbers is not None else ""  # every paragraph counts
            if label and text.strip():
                text = f"{label} {text.lstrip()}"
            if _is_drop_cap(el):
                drop_cap += text.strip()
                continue
            text, drop_cap = drop_cap + text, ""
            level = _level(el, levels)
            if level is not None and text.strip():
                out.heading(level, text)
            else:
                out.add(text)
        else:
            out.add(_table_text(el))
    notes = _notes(notes_xml)
    if notes:
        out.heading(1, "Notes")
        out.add(notes)
    return out.finish()


def _blocks(parent: Any) -> Iterator[Any]:
    """Paragraphs and tables in order, at the level of ``parent``'s own (a body, a cell, a
    note): looking inside content controls, custom XML (SharePoint's mapped fields), tracked
    insertions and other wrappers, not into paragraphs or tables themselves."""
    stack = [iter(parent)]
    while stack:
        for el in stack[-1]:
            tag = el.tag
            if tag in (_P, _TBL):
                yield el
            elif tag == _SDT:
                content = el.find(_SDT_CONTENT)
                if content is not None:
                    stack.append(iter(content))
                    break
            elif isinstance(tag, str) and tag not in _LEAVES and len(el):
                stack.append(iter(el))
                break
        else:
            stack.pop()


# Body-level elements with no text of their own to look into.
_LEAVES = frozenset({W + "sectPr", W + "tblPr", W + "tblGrid", W + "trPr", W + "tcPr", W + "sdtPr", W + "sdtEndPr",
                     W + "customXmlPr", *_GONE})


def _drop_fallbacks(root: Any) -> None:
    """Remove mc:Fallback branches: Word stores text boxes and shapes twice (a modern
    mc:Choice and a VML fallback), which would index their text twice."""
    for fallback in list(root.iter(_MC_FALLBACK)):
        parent = fallback.getparent()
        if parent is not None:
            parent.remove(fallback)


def _inline_diagrams(body: Any, blob: Callable[[str], bytes]) -> None:
    """Put each SmartArt diagram's text where the diagram is, as text of its paragraph: it
    lives in a part of its own (word/diagrams/data1.xml), which the body only points to."""
    for rel in body.iter(DIAGRAM_RELS):
        rid = rel.get(RELS_NS + "dm")
        try:
            lines = diagram_lines(blob(rid)) if rid else []
        except (KeyError, AttributeError, ValueError):
            continue
        for i, line in enumerate(lines):
            if i:
                rel.append(rel.makeelement(_BR))
            t = rel.makeelement(_T)
            t.text = line
            rel.append(t)


def _drop_moved_away(root: Any) -> None:
    """Remove text a tracked change moved away (w:moveFrom, in plain w:t, unlike deletions'
    w:delText): it is also where it was moved to, and would be read twice."""
    for el in list(root.iter(W + "moveFrom")):
        parent = el.getparent()
        if parent is not None:
            parent.remove(el)


def _is_drop_cap(p: Any) -> bool:
    frame = p.find(f"{_PPR}/{W}framePr")
    return frame is not None and frame.get(W + "dropCap") in ("drop", "margin")


def _para_text(p: Any) -> str:
    parts = []
    for el in p.iter(_T, _MATH_T, _TAB, _BR, _CR, _NOBREAK_HYPHEN, _P):
        tag = el.tag
        if tag in (_T, _MATH_T):
            parts.append(el.text or "")
        elif tag == _TAB:
            parts.append("\t")
        elif tag == _NOBREAK_HYPHEN:
            parts.append("-")
        elif tag == _P:
            if el is not p:  # a paragraph of a text box inside this one
                parts.append("\n")
        else:
            parts.append("\n")
    return "".join(parts)


def _table_text(tbl: Any) -> str:
    rows = []
    for tr in _children(tbl, _TR):
        cells = []
        for tc in _children(tr, _TC):
            cells.append(" ".join(_block_words(tc)).strip())
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _block_words(parent: Any) -> Iterator[str]:
    """A cell's or a note's paragraphs and nested tables, each on one line; a text box
    inside a paragraph is that paragraph's (``_para_text``), read once."""
    for el in _blocks(parent):
        yield " ".join((_para_text(el) if el.tag == _P else _table_text(el)).split())


def _children(parent: Any, tag: str) -> Iterator[Any]:
    """Child elements with ``tag``, including those wrapped in content controls (w:sdt):
    a table's rows or a row's cells. Nested tables are read as part of their cell."""
    for el in parent:
        if el.tag == tag:
            yield el
        elif el.tag == _SDT:
            content = el.find(_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)
        elif el.tag == W + "customXml":
            yield from _children(el, tag)


def _level(p: Any, levels: dict[str, int]) -> int | None:
    ppr = p.find(_PPR)
    if ppr is None:
        return None
    outline = ppr.find(_OUTLINE)
    if outline is not None:
        lvl = _int(outline.get(_VAL))
        if lvl is not None and 0 <= lvl <= 8:
            return lvl + 1
        if lvl == 9:  # Word's "Body Text" level: not a heading, whatever its style
            return None
    style = ppr.find(_PSTYLE)
    return levels.get(style.get(_VAL, "")) if style is not None else None


def _style_levels(styles: Any) -> dict[str, int]:
    """style id -> heading level (Title = 0) for paragraph styles that are headings,
    following basedOn so that a custom "My Heading" based on Heading 2 counts."""
    own: dict[str, int] = {}
    based: dict[str, str] = {}
    for st in styles.iterchildren(W + "style"):
        if st.get(W + "type") != "paragraph":
            continue
        sid = st.get(W + "styleId", "")
        name_el = st.find(W + "name")
        name = (name_el.get(_VAL, "") if name_el is not None else "").strip()
        outline = st.find(f"{_PPR}/{_OUTLINE}")
        lvl = _int(outline.get(_VAL)) if outline is not None else None
        m = _HEADING_NAME.match(name) or _HEADING_NAME.match(sid)
        if lvl is not None and 0 <= lvl <= 8:
            own[sid] = lvl + 1
        elif m:
            own[sid] = int(m.group(1))
        elif name.lower() == "title" or sid.lower() == "title":
            own[sid] = 0
        base = st.find(W + "basedOn")
        if base is not None:
            based[sid] = base.get(_VAL, "")
    return inherited(own, based)


def _notes(parts: list[bytes]) -> str:
    """Text of the footnotes and endnotes parts."""
    from lxml import etree

    out = []
    for xml in parts:
        try:
            root = etree.fromstring(xml, _xml_parser())
        except etree.XMLSyntaxError:
            continue
        _drop_fallbacks(root)
        _drop_moved_away(root)
        for note in root:
            if note.get(W + "type") in ("separator", "continuationSeparator", "continuationNotice"):
                continue
            text = " ".join(_block_words(note)).strip()
            if text:
                out.append(text)
    return "\n\n".join(out)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
