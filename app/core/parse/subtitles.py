"""Subtitles and captions (.srt, .vtt, .sbv, .ass, .ssa): what is said, without cue numbers,
timings, styles or inline tags, and without the repeated lines of auto-generated captions."""

from __future__ import annotations

import html
import re

from app.core.parse import Section
from app.core.parse._common import clean_prose
from app.core.parse.text import decode_text_file

_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})"
# "-->" between the times (SRT, VTT; milliseconds may be left out) or "," (SBV, which has them).
_TIMING = re.compile(rf"^\s*{_TIME}(?:[.,](\d{{1,3}}))?\s*-->\s*{_TIME}(?:[.,](\d{{1,3}}))?"
                     rf"|^\s*{_TIME}[.,](\d{{1,3}})\s*,\s*{_TIME}[.,](\d{{1,3}})")
# <i>, </i>, <c.yellow>, <v Joe>, <00:00:01.000>, {\an8}; not "<3" or "3 < 4 > 2". No "<" or
# newline inside, so a long line of "<" is not scanned to its end once per "<".
_TAG = re.compile(r"<(?:/?[A-Za-z]|\d+:\d)[^<>\n]*>|\{\\[^{}\n]*\}")
_BLOCKS = ("NOTE", "STYLE", "REGION")  # WebVTT blocks that are not captions
# Auto-generated captions scroll: the last line of a cue comes again at the top of the next,
# or alone in a cue of a few milliseconds.
_BLINK = 0.05


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        text = decode_text_file(f.read()).replace("\r\n", "\n").replace("\r", "\n")
    lines = _ass_lines(text) if _is_ass(text) else _cue_lines(text)
    text = clean_prose("\n".join(lines))
    return [Section(text, None)] if text else []


def _cue_lines(text: str) -> list[str]:
    lines: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text):
        rows = [r for r in block.split("\n") if r.strip()]
        if not rows:
            continue
        head = rows[0].strip()
        if head.startswith("WEBVTT") or head.split(" ", 1)[0] in _BLOCKS or head.startswith("::cue"):
            continue
        timing = next((i for i, r in enumerate(rows) if _TIMING.match(r)), None)
        if timing is None:
            continue  # a header line ("Kind: captions") or something else that is not a cue
        said_rows = [said for row in rows[timing + 1:]
                     if not _TIMING.match(row)  # the next cue without a blank line between (YouTube's)
                     and (said := " ".join(html.unescape(_TAG.sub("", row)).split()))]
        if said_rows and lines and said_rows[0] == lines[-1] \
                and (len(said_rows) > 1 or _duration(_TIMING.match(rows[timing])) < _BLINK):
            del said_rows[0]  # scrolled up from the cue before
        lines.extend(said_rows)
    return lines


def _duration(m: re.Match[str]) -> float:
    """Seconds between a timing line's two times."""
    g = m.groups()
    g = g[:8] if g[2] is not None else g[8:]

    def seconds(h: str | None, mi: str, s: str, ms: str | None) -> float:
        return int(h or 0) * 3600 + int(mi) * 60 + int(s) + (int(ms.ljust(3, "0")) / 1000 if ms else 0)

    return seconds(*g[4:]) - seconds(*g[:4])


def _is_ass(text: str) -> bool:
    """An Advanced SubStation Alpha (.ass) or SubStation Alpha (.ssa) script."""
    return "[Script Info]" in text[:4096] or "\nDialogue:" in text


def _ass_lines(text: str) -> list[str]:
    """The text of each Dialogue line: the last field (after the 9th comma unless the Events
    Format line says otherwise), without {\\...} overrides; \\N, \\n and \\h are spaces."""
    fields = 10
    lines: list[str] = []
    for line in text.split("\n"):
        key, _, rest = line.partition(":")
        key = key.strip()
        if key == "Format" and "Text" in rest:
            fields = len(rest.split(","))
        elif key == "Dialogue":
            parts = rest.split(",", fields - 1)
            if len(parts) < fields:
                continue
            said = _TAG.sub("", parts[-1]).replace("\\N", " ").replace("\\n", " ").replace("\\h", " ")
            if said := " ".join(said.split()):
                lines.append(said)
    return lines
