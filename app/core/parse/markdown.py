"""Markdown: one section per ATX/Setext heading, with the heading path.

'#' lines inside fenced code blocks and HTML comments are not headings; YAML/TOML front
matter is kept as text of the first section. The Markdown itself is left as written (links,
emphasis markers): it reads fine and keeps URLs searchable.
"""

from __future__ import annotations

import re

from app.core.parse import Section
from app.core.parse._common import SectionBuilder
from app.core.parse.text import decode_text_file

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]|$)")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)$")
# A list item, quote or table row: "---" under one is a rule (or a list item), not a heading.
# The first line of front matter: a YAML key (a leading "---" followed by prose is a rule).
_YAML_KEY = re.compile(r"[ \t]*[\w\"'][^:\n]*:(?:[ \t]|$)|[ \t]*#")
_TOML_KEY = re.compile(r"[ \t]*(?:[\w\"'.-]+[ \t]*=|\[|#)")
# An indented line after a blank one is code: "---" under it is a rule, not a Setext underline.
_NOT_PARAGRAPH = re.compile(r" {0,3}(?:[-*+](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>|\|)| {4}|[ ]{0,3}\t")
# HTML blocks whose lines are not Markdown until their end ("# apt-get" in a <pre> is no heading).
_HTML_BLOCK = re.compile(r" {0,3}<(?:(!--)|(pre|script|style|textarea)(?=[\s>]|$))", re.I)
# Inline syntax in a heading's title: code spans, images (badges), links, emphasis, {#id}.
# None of them crosses its own delimiter, so each scan stops at the next one (linear).
_CODE_SPAN = re.compile(r"(`+)([^`]+?)\1")
_INLINE_IMAGE = re.compile(r"!\[[^\[\]]*\](?:\([^()]*\)|\[[^\[\]]*\])")
_INLINE_LINK = re.compile(r"\[([^\[\]]*)\](?:\([^()]*\)|\[[^\[\]]*\])")
_EMPHASIS = re.compile(r"\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*|(?<!\w)__(?=[^\s_])([^_]+?)(?<=\S)__(?!\w)"
                       r"|\*(?=[^\s*])([^*]+?)(?<=\S)\*|(?<!\w)_(?=[^\s_])([^_]+?)(?<=\S)_(?!\w)")
_ATTRIBUTES = re.compile(r"\s*\{[#.][^{}]*\}\s*$")
_INLINE_MARK = re.compile(r"[\[*_{]")


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        data = f.read()
    return parse_text(without_data_images(decode_text_file(data)))


# An image pasted as a data: URI (Typora, Obsidian, VS Code, Jupyter) is ~100 KB of base64
# that would become hundreds of chunks; its alt text stays.
_DATA_IMAGE_MD = re.compile(r"!\[([^\]\n]*)\]\(\s*<?data:[^)\s]*\s*(?:\"[^\"]*\")?\s*\)")
# [^<>] and not [^>]: an <img without its ">" must not make every later one scan to the end.
_DATA_IMAGE_HTML = re.compile(r"<img\b[^<>]*?\bsrc\s*=\s*[\"']?data:[^<>]*>", re.I)


def without_data_images(text: str) -> str:
    """``text`` without images embedded as data: URIs, Markdown (alt text kept) or <img>."""
    if "data:" not in text:
        return text
    return _DATA_IMAGE_MD.sub(r"\1", _DATA_IMAGE_HTML.sub("", text))


def parse_text(text: str) -> list[Section]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = SectionBuilder(code=True)
    body: list[str] = []
    para_start = 0  # index in body where the current paragraph began (for Setext)
    fence = ""  # the opening fence while inside a fenced code block
    html_end = ""  # what ends the HTML comment or <pre>/<script>/<style> block we are in
    i = _skip_front_matter(lines, body)
    para_start = len(body)

    def heading(level: int, title: str) -> None:
        nonlocal body, para_start
        out.add("\n".join(body))
        out.heading(level, title)
        body = []
        para_start = 0

    for line in lines[i:]:
        if html_end:
            body.append(line)
            if html_end in line.lower():
                html_end = ""
                para_start = len(body)
            continue
        if fence:
            body.append(line)
            if _closes(line, fence):
                fence = ""
                para_start = len(body)
            continue
        if opened := _opens(line):
            fence = opened
            body.append(line)
            continue
        if not line.strip():
            body.append(line)
            para_start = len(body)
            continue
        if line.lstrip(" ").startswith("<") and (html_end := _html_block_end(line)):
            body.append(line)
            continue
        m = _ATX.match(line)
        if m:
            heading(len(m.group(1)), _plain_title(_atx_title(line[m.end():])))
            continue
        m = _SETEXT.match(line)
        if m and para_start < len(body) and not _NOT_PARAGRAPH.match(body[para_start]):
            title = " ".join(s.strip() for s in body[para_start:])
            del body[para_start:]
            heading(1 if m.group(1)[0] == "=" else 2, _plain_title(title))
            continue
        body.append(line)
    out.add("\n".join(body))
    return out.finish()


def _html_block_end(line: str) -> str:
    """What ends the HTML block ``line`` opens and leaves open ("-->", "</pre>"), or ""."""
    m = _HTML_BLOCK.match(line)
    if not m:
        return ""
    end = "-->" if m.group(1) else f"</{m.group(2).lower()}>"
    return "" if end in line[m.end():].lower() else end


def _plain_title(title: str) -> str:
    """A heading's title as it reads: "[API](api.md) reference `parse_file()` ![badge](x.svg)"
    is "API reference parse_file()" (code spans kept as they are written inside)."""
    pieces = _CODE_SPAN.split(title) if "`" in title else [title]  # text, ticks, code, text, ...
    if len(pieces) == 1 and not _INLINE_MARK.search(title):
        return title
    out = []
    for i in range(0, len(pieces), 3):
        piece = pieces[i]
        if _INLINE_MARK.search(piece):
            piece = _INLINE_LINK.sub(r"\1", _INLINE_IMAGE.sub("", piece))
            piece = _EMPHASIS.sub(lambda m: next(g for g in m.groups() if g is not None), piece)
            if "{" in piece:
                piece = _ATTRIBUTES.sub("", piece)
        out.append(piece)
        if i + 2 < len(pieces):
            out.append(pieces[i + 2].strip())
    return " ".join("".join(out).split())


def open_fence(text: str) -> str:
    """The fence of a code block that ``text`` opens and leaves open, or ""."""
    fence = ""
    for line in text.replace("\r", "\n").split("\n"):
        if fence:
            if _closes(line, fence):
                fence = ""
        else:
            fence = _opens(line)
    return fence


def _opens(line: str) -> str:
    """The fence ``line`` opens a code block with, or "" (a ``` line whose info has a backtick
    is text)."""
    m = _FENCE.match(line)
    return m.group(1) if m and not (m.group(1)[0] == "`" and "`" in m.group(2)) else ""


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence[0]) and stripped == fence[0] * len(stripped) \
        and len(stripped) >= len(fence) and len(line) - len(line.lstrip(" ")) <= 3


def _atx_title(rest: str) -> str:
    """The text of an ATX heading without its optional closing "#" run (string ops, no
    regex: a lazy regex here is quadratic on long lines of spaces)."""
    rest = rest.strip()
    bare = rest.rstrip("#")
    if not bare:
        return ""
    if bare != rest and bare[-1] in " \t":  # a closing sequence must follow a space
        return bare.rstrip()
    return rest


def _skip_front_matter(lines: list[str], body: list[str]) -> int:
    """Copy a leading ---/+++ front-matter block into ``body``; return the next line index."""
    if not lines or lines[0].strip() not in ("---", "+++"):
        return 0
    yaml = lines[0].strip() == "---"
    closers = ("---", "...") if yaml else ("+++",)
    first = next((x for x in lines[1:50] if x.strip()), "")
    if not (_YAML_KEY if yaml else _TOML_KEY).match(first):
        return 0
    for j in range(1, min(len(lines), 500)):
        if lines[j].strip() in closers:
            body.extend(lines[: j + 1])
            return j + 1
    return 0
