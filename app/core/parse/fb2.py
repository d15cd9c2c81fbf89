"""FictionBook 2 (.fb2): XML with nested <section>s, each with a <title>.

Parsed with lxml (no network, no entity expansion). The base64 <binary> images are left out;
of the <description>, the book's title, authors, blurb (<annotation>) and keywords
come first, as a catalogue card would show them.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import DamagedFile
from app.core.parse import Section
from app.core.parse._common import SectionBuilder, describe

_PARA = frozenset({"p", "v", "subtitle", "text-author", "date"})


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el: Any) -> str:
    try:
        text = "".join(el.itertext())
    except UnicodeDecodeError:
        # A reference to half a surrogate pair (&#xD83D;&#xDE00; for an emoji), which lxml keeps
        # in recover mode but cannot return as str; parse_file joins or replaces the halves.
        from lxml import etree

        raw = etree.tostring(el, method="text", encoding="utf-8", with_tail=False)
        text = raw.decode("utf-8", "surrogatepass")
    return " ".join(text.split())


def parse(path: str) -> list[Section]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, recover=True)
    try:
        root = etree.parse(path, parser).getroot()
    except etree.XMLSyntaxError as exc:
        raise DamagedFile(f"damaged FB2 (not well-formed XML): {describe(exc)}") from None
    if root is None:
        raise DamagedFile("damaged FB2: no XML content")
    out = SectionBuilder()
    out.add(_title_info(root))
    out.flush()  # the card is a section of its own
    for body in (el for el in root if _local(el.tag) == "body"):
        # Iterative walk; (element, section depth). A body's title is level 1, its
        # sections' titles level 2, and so on.
        stack: list[tuple[Any, int]] = [(body, 0)]
        while stack:
            el, depth = stack.pop()
            name = _local(el.tag)
            if name == "title":
                out.heading(depth + 1, " ".join(_text(p) for p in el) or _text(el))
            elif name in _PARA:
                out.add(_text(el))
            elif name == "table":
                out.add("\n".join(" | ".join(_text(c) for c in row) for row in el))
            elif name in ("body", "section", "poem", "stanza", "epigraph", "cite", "annotation"):
                inner = depth + 1 if name == "section" else depth
                stack.extend((child, inner) for child in reversed(el))
    return out.finish()


def _title_info(root: Any) -> str:
    """The book's title, authors, blurb and keywords from <description><title-info>."""
    info = next((el for d in root if _local(d.tag) == "description"
                 for el in d if _local(el.tag) == "title-info"), None)
    if info is None:
        return ""
    title, authors, blurb, keywords = "", [], [], ""
    for el in info:
        name = _local(el.tag)
        if name == "book-title":
            title = _text(el)
        elif name == "author":
            parts = {_local(p.tag): _text(p) for p in el}
            full = " ".join(parts.get(k, "") for k in ("first-name", "middle-name", "last-name")).split()
            if who := " ".join(full) or parts.get("nickname", ""):
                authors.append(who)
        elif name == "annotation":
            blurb = [t for p in el if (t := _text(p))] or [_text(el)]
        elif name == "keywords":
            keywords = _text(el)
    if not (authors or blurb or keywords) and title in _body_titles(root):
        return ""  # nothing the body's own title does not already say
    lines = [title, ", ".join(authors)] if authors else [title]
    return "\n\n".join(x for x in ("\n".join(filter(None, lines)), *blurb, keywords) if x)


def _body_titles(root: Any) -> set[str]:
    return {" ".join(_text(p) for p in t) or _text(t)
            for body in root if _local(body.tag) == "body" for t in body if _local(t.tag) == "title"}
