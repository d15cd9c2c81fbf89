"""HTML and XHTML through selectolax (lexbor): visible text, one section per h1-h6.

Dropped: script, style, noscript, template (not a saved shadow root), svg, iframe (its
srcdoc page is read), object, nav (and elements with role="navigation" or "search"), ruby
readings (<rt>, <rp>) and the whole <head> except <title>. Block elements become paragraph
breaks, list items and table rows line breaks, table cells " | ".
"""

from __future__ import annotations

import html as html_lib
import re
from collections import Counter
from typing import Any

from app.core.parse import Section
from app.core.parse._common import (
    SectionBuilder,
    bom_encoding,
    clean_prose,
    declared_charset,
    decode_bytes,
    utf16_without_bom,
)

# <noframes> and <noembed> hold markup the parser keeps as raw text ("<H2>Frame Alert</H2>"),
# a fallback message for old browsers. <rt> and <rp> are the readings in <ruby> ("漢(かん)字(じ)"):
# left in, they split the word they annotate.
_DROP = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "object",
                   "embed", "canvas", "nav", "audio", "video", "map", "-comment", "!doctype", "noframes",
                   "noembed", "rt", "rp"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK = frozenset({
    "p", "div", "section", "article", "main", "aside", "header", "footer", "blockquote", "pre", "ul", "ol",
    "dl", "table", "thead", "tbody", "tfoot", "caption", "figure", "figcaption", "form", "fieldset",
    "address", "details", "summary", "hr", "body", "html", "center", "hgroup", "menu", "legend", "dialog",
})
_LINE = frozenset({"br", "li", "tr", "dt", "dd", "option"})
_CELL = frozenset({"td", "th"})
_WS = re.compile(r"\s+")
_EMPTY_CELLS = re.compile(r"\|(?: \|)+")
_CELL_EDGES = re.compile(r"(?m)^\| ?| \|$")
_BLANK_LINES = re.compile(r"\n{3,}")
_ANY_TAG = re.compile(r"<[^<>]*>")
MAX_DEPTH = 5000
_DEPTH_CHUNK = 65536
# Start tags that need no end tag (or usually lack one): they do not deepen the tree.
_FLAT_NAMES = ("br", "img", "meta", "link", "input", "hr", "wbr", "source", "col", "area", "base", "embed",
               "param", "track", "p", "li", "td", "tr", "th", "dt", "dd", "option")
_VOID = frozenset(_FLAT_NAMES[:12])
_FLAT_SET = frozenset(_FLAT_NAMES)
_START_NAME = re.compile(r"<([A-Za-z][A-Za-z0-9]*)")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)")
_RAW_OPEN = re.compile(r"<(script|style)\b|<!--", re.I)
_RAW_CLOSE = {"script": re.compile(r"</script\s*>", re.I), "style": re.compile(r"</style\s*>", re.I),
              "": re.compile("-->")}
# Start tags that close an open <p> (the inline elements left open inside it go with it).
_CLOSES_P = frozenset({
    "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr",
    "main", "menu", "nav", "ol", "p", "pre", "section", "summary", "table", "ul", "li", "dd", "dt"})
# Start tags that close an open element of their own name (a list item the one before), unless
# an element of the second set lies between (a nested list).
_SCOPE = frozenset({"table", "td", "th", "caption", "button", "html", "object", "marquee", "applet", "template"})
_CLOSES_SAME: dict[str, frozenset[str]] = {
    "p": _SCOPE,
    "li": _SCOPE | {"ul", "ol"},
    **dict.fromkeys(["dt", "dd"], _SCOPE | {"dl"}),
    **dict.fromkeys(["tr", "tbody", "thead", "tfoot"], _SCOPE - {"td", "th"}),
    **dict.fromkeys(["td", "th"], frozenset({"table", "tr"})),
    "option": frozenset({"select"}),
    "a": _SCOPE,
}
_SCOPE_WALK = 256  # stack entries searched for the element a start tag closes
# Footnote references as Pandoc, Calibre, Word and EPUB 3 mark them.
_NOTE_REFS = 'a[role="doc-noteref"], a[epub\\:type~="noteref"], a.footnote-ref'
_SHADOW_ROOT = re.compile(r"<template\b[^<>]*\bshadowrootmode\b[^<>]*>", re.I)
# Elements whose content the HTML parser takes as raw text up to their end tag: written
# self-closed, as XML serialisers do ("<title/>"), they would swallow the rest of the page.
_RAW_SELF_CLOSED = re.compile(
    r"<(title|script|style|iframe|textarea|noscript|xmp|noembed|noframes)\b([^<>]*?)/>", re.I)

def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    # UTF-16 without a byte-order mark (some Windows tools) has no readable charset declaration.
    if not bom_encoding(data) and (utf16 := utf16_without_bom(data[:4096])):
        return parse_html(data.decode(utf16, errors="replace"))
    return parse_html(data)


def _clean(text: str) -> str:
    """clean_prose, and the cell separators of empty cells and at a row's ends left out (a
    layout table gave lines of "|" and "| |")."""
    text = clean_prose(text)
    if "|" not in text:
        return text
    text = _CELL_EDGES.sub("", _EMPTY_CELLS.sub("|", text))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _too_deep(data: str) -> bool:
    """Whether lexbor would build a tree deeper than MAX_DEPTH. A cheap upper estimate first
    (start tags minus end tags and tags that do not nest, at each 64 KB boundary); only when
    it says too deep, a scan that follows the tags (unclosed <p>, <li> and <font> soup is
    shallow). Script and style bodies and comments do not count."""
    if data.count("<") < MAX_DEPTH:
        return False
    data = _without_raw_text(data)
    return _estimate_exceeds(data) and _stack_exceeds(data)


def _is_xhtml(data: str) -> bool:
    """An XML document (EPUB chapters, .xhtml files), by its declaration or namespace."""
    head = data[:2048]
    return "<?xml" in head or "/1999/xhtml" in head


def _without_raw_text(data: str) -> str:
    """``data`` without script and style bodies and comments (their "<" are not tags)."""
    pieces: list[str] = []
    pos = 0
    while m := _RAW_OPEN.search(data, pos):
        pieces.append(data[pos:m.start()])
        end = _RAW_CLOSE[(m.group(1) or "").lower()].search(data, m.end())
        if end is None:
            pos = len(data)
            break
        pos = end.end()
    if not pieces:
        return data
    pieces.append(data[pos:])
    return "".join(pieces)


def _estimate_exceeds(data: str) -> bool:
    depth = 0
    for i in range(0, len(data), _DEPTH_CHUNK):
        chunk = data[i:i + _DEPTH_CHUNK]
        names = Counter(_START_NAME.findall(chunk))
        flat = sum(n for name, n in names.items() if name.lower() in _FLAT_SET)
        depth = max(depth + names.total() - flat - chunk.count("</"), 0)
        if depth > MAX_DEPTH:
            return True
    return False


def _stack_exceeds(data: str) -> bool:
    """Follow start and end tags on a stack, closing what HTML closes implicitly (a <p> at the
    next block, a list item at the next); True once it holds more than MAX_DEPTH elements.
    A "/>" closes nothing: HTML ignores it on elements that are not void."""
    stack: list[str] = []
    open_count: Counter[str] = Counter()

    def pop_to(name: str) -> None:
        while (top := stack.pop()) != name:
            open_count[top] -= 1
        open_count[name] -= 1

    def close_implied(name: str) -> None:
        if not open_count[name]:
            return
        bounds = _CLOSES_SAME[name]
        for i in range(len(stack) - 1, max(len(stack) - _SCOPE_WALK, 0) - 1, -1):
            if stack[i] == name:
                pop_to(name)
                return
            if stack[i] in bounds:
                return

    for m in _TAG.finditer(data):
        name = m.group(2).lower()
        if name in _VOID:
            continue
        if m.group(1):  # an end tag
            if open_count[name]:
                pop_to(name)
            continue
        if name in _CLOSES_P:
            close_implied("p")
        if name in _CLOSES_SAME and name != "p":
            close_implied(name)
        stack.append(name)
        open_count[name] += 1
        if len(stack) > MAX_DEPTH:
            return True
    return False


def parse_html(data: bytes | str, with_title: bool = True, frames: bool = True) -> list[Section]:
    """Sections of an HTML document; ``with_title`` puts <title> before the first text
    (EPUB chapters repeat the book's title, so the EPUB reader turns it off); ``frames``
    reads the pages written into <iframe srcdoc="..."> (one level deep)."""
    from selectolax.lexbor import LexborHTMLParser

    if isinstance(data, bytes):
        data = decode_bytes(data, declared_charset(data[:4096]))
    if _is_xhtml(data):
        data = _RAW_SELF_CLOSED.sub(r"<\1\2></\1>", data)
    if "shadowrootmode" in data:
        # A shadow root saved in the page (SingleFile, declarative shadow DOM) is shown, unlike
        # a <template>; lexbor keeps a template's content out of the tree.
        data = _SHADOW_ROOT.sub("<div>", data)
    if _too_deep(data):
        # lexbor's cost grows with the square of the nesting depth (80,000 nested
        # <div>s take ~17 s): such a file is crafted or broken; keep its bare text.
        text = clean_prose(html_lib.unescape(_ANY_TAG.sub(" ", data)))
        return [Section(text, None)] if text else []
    tree = LexborHTMLParser(data)
    title = ""
    if with_title:
        node = tree.css_first("head > title")  # not an <svg>'s <title> (an icon's name)
        title = _WS.sub(" ", node.text(deep=True)).strip() if node is not None else ""
    if frames and "srcdoc" in data:  # an iframe's page written in its attribute (SingleFile, embeds)
        for node in tree.css("iframe[srcdoc]"):
            inner = parse_html(node.attributes.get("srcdoc") or "", with_title=False, frames=False)
            node.replace_with(" " + " ".join(s.text for s in inner) + " ")
    if "role=" in data:  # Sphinx's sidebars and link bars, like <nav>
        for node in tree.css('[role="navigation" i], [role="search" i]'):
            node.decompose()
    if "noteref" in data or "footnote-ref" in data:
        # A footnote mark is not part of the word before it ("Smith1").
        for node in tree.css(_NOTE_REFS):
            node.insert_before(" ")
    root = tree.root
    out = SectionBuilder(clean=_clean)
    if root is None:
        return []

    parts: list[str] = []
    sink = parts  # where text goes: the body, or a heading's title while inside one
    first = True

    def flush() -> None:
        nonlocal first
        text = "".join(parts)
        parts.clear()
        if first and text.strip():
            # The title goes with the first text, also when a heading comes first (it was
            # lost then), unless that heading says the same.
            first = False
            heading = out.path.last.casefold()
            if title and not (heading and (heading in title.casefold() or title.casefold() in heading)):
                text = f"{title}\n\n{text}"
        out.add(text)

    def end_heading() -> None:
        nonlocal sink
        # Sphinx and friends end headings with a "¶" permalink.
        out.heading(heading_level, "".join(sink).strip().rstrip("¶#").strip())
        sink = parts

    # Iterative pre-order walk (a recursive one would overflow on crafted nesting).
    node = root
    pre = 0
    in_heading = 0  # headings open from the one being read (crafted pages nest them)
    heading_level = 0
    while True:
        tag = node.tag
        if tag == "-text":
            t = node.text_content
            if t:
                # Newlines in running text are spaces; the rest of the whitespace is
                # collapsed once per section by clean_prose (cheaper than per node).
                sink.append(t if pre else t.replace("\r", " ").replace("\n", " "))
        elif tag in _HEADINGS and not in_heading:
            flush()
            # Its text comes from the same walk: inline tags ("<span>C</span>HAPTER") join
            # without a space, and scripts inside are dropped.
            heading_level, sink = int(tag[1]), []
            child = node.child
            if child is not None:
                in_heading = 1
                node = child
                continue
            end_heading()
        elif tag and tag not in _DROP and tag[0] != "-":  # no tag: <?php ... ?>, a processing instruction
            if tag in _BLOCK:
                sink.append("\n\n")
            elif tag in _LINE:
                sink.append("\n")
            elif tag in _CELL:
                sink.append(" | ")
            elif (tag == "sup" and _holds_only_a_link(node)) or "-" in tag:
                # A footnote mark in a <sup> link is not part of the word before it, nor are the
                # words of custom elements one word ("<my-card>four</my-card><my-card>five").
                sink.append(" ")
            child = node.child
            if child is not None:
                if tag == "pre":
                    pre += 1
                elif in_heading and tag in _HEADINGS:
                    in_heading += 1
                node = child
                continue
        # No descent: go to the next sibling, climbing out of finished parents.
        nxt = node.next
        while nxt is None:
            node = node.parent
            if node is None:
                break
            ptag = node.tag
            if ptag == "-document":
                node = None
                break
            if ptag in _BLOCK:
                sink.append("\n\n")
                if ptag == "pre":
                    pre -= 1
            elif in_heading and ptag in _HEADINGS:
                in_heading -= 1
                if not in_heading:
                    end_heading()
            nxt = node.next
        if node is None:
            break
        node = nxt
    flush()
    return out.finish()


def _holds_only_a_link(node: Any) -> bool:
    """Whether an element's content is one link and nothing else but spaces (<sup><a>1</a></sup>)."""
    links = 0
    child = node.child
    while child is not None:
        if child.tag == "a":
            links += 1
        elif child.tag != "-text" or (child.text_content or "").strip():
            return False
        child = child.next
    return links == 1
