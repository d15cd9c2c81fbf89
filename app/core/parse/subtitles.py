"""Subtitles and captions (.srt, .vtt, .sbv): what is said, without cue numbers, timings,
styles or inline tags, and without the repeated lines of auto-generated captions."""

from __future__ import annotations

import html
import re

from app.core.parse import Section
from app.core.parse._common import clean_prose
from app.core.parse.text import decode_text_file

_TIMING = re.compile(r"^\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*(?:-->|,)\s*(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}")
_TAG = re.compile(r"<[^>\n]*>|\{\\[^}\n]*\}")  # <i>, <c.yellow>, <v Joe>, <00:00:01.000>, {\an8}
_BLOCKS = ("NOTE", "STYLE", "REGION")  # WebVTT blocks that are not captions


def parse(path: str) -> list[Section]:
    with open(path, "rb") as f:
        text = decode_text_file(f.read())
    blocks = re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    for block in blocks:
        rows = [r for r in block.split("\n") if r.strip()]
        if not rows:
            continue
        head = rows[0].strip()
        if head.startswith("WEBVTT") or head.split(" ", 1)[0] in _BLOCKS or head.startswith("::cue"):
            continue
        timing = next((i for i, r in enumerate(rows) if _TIMING.match(r)), None)
        if timing is None:
            continue  # a header line ("Kind: captions") or something else that is not a cue
        for row in rows[timing + 1:]:
            if _TIMING.match(row):  # the next cue without a blank line between (YouTube's)
                continue
            said = " ".join(html.unescape(_TAG.sub("", row)).split())
            # Auto-generated captions repeat each line in the next cue as it scrolls.
            if said and (not lines or said != lines[-1]):
                lines.append(said)
    text = clean_prose("\n".join(lines))
    return [Section(text, None)] if text else []
