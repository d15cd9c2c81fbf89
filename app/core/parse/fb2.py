"""FictionBook 2 (.fb2): XML with nested <section>s, each with a <title>.

Parsed with lxml (no network, no entity expansion); the base64 <binary> images and
the <description> metadata (except the book title) are left out.
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
