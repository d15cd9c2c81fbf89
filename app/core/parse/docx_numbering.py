"""Word's automatic numbering: the "4.2" of a clause or the "(b)" of a list item.

Word stores no such text in the paragraph; it draws it from numbering.xml. Contracts and
policies are cited by these numbers ("clause 4.2"), so they are put back in front of the
paragraph's text. Counters are kept per list instance (w:num), as Word continues a list
that reuses its instance and restarts one that has a new instance or a start override.
Bullets are left out: they are not text anyone searches for.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

T = TypeVar("T")
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_VAL = W + "val"
_LEVEL_REF = re.compile(r"%([1-9])")
_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
          (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))


class _Level:
    __slots__ = ("fmt", "text", "start", "restart", "legal")

    def __init__(self, el: Any) -> None:
        self.fmt = _val(el, "numFmt") or "decimal"
        self.text = _val(el, "lvlText")
        self.start = _int(_val(el, "start"), 1)
        restart = _val(el, "lvlRestart")
        self.restart = _int(restart, -1) if restart is not None else -1  # -1: after any higher level
        self.legal = el.find(W + "isLgl") is not None


class Numbering:
    """Labels of numbered paragraphs, in document order: call ``label`` once per paragraph."""

    def __init__(self, numbering: Any, styles: Any) -> None:
        abstract: dict[str, dict[int, _Level]] = {}
        self._style_of_level: dict[str, tuple[str, int]] = {}  # style id -> (abstract id, level)
        for a in numbering.iterchildren(W + "abstractNum"):
            aid = a.get(W + "abstractNumId", "")
            levels = abstract[aid] = {}
            for lvl in a.iterchildren(W + "lvl"):
                ilvl = _int(lvl.get(W + "ilvl"), 0)
                levels[ilvl] = _Level(lvl)
                style = _val(lvl, "pStyle")
                if style:
                    self._style_of_level[style] = (aid, ilvl)
        self._levels: dict[str, dict[int, _Level]] = {}
        self._starts: dict[str, dict[int, int]] = {}  # a list instance's start overrides
        for num in numbering.iterchildren(W + "num"):
            nid = num.get(W + "numId", "")
            aid = _val(num, "abstractNumId") or ""
            levels = dict(abstract.get(aid, {}))
            starts: dict[int, int] = {}
            for override in num.iterchildren(W + "lvlOverride"):
                ilvl = _int(override.get(W + "ilvl"), 0)
                lvl = override.find(W + "lvl")
                if lvl is not None:
                    levels[ilvl] = _Level(lvl)
                start = _val(override, "startOverride")
                if start is not None:
                    starts[ilvl] = _int(start, 1)
            self._levels[nid] = levels
            self._starts[nid] = starts
        self._style_num = _style_numbering(styles) if styles is not None else {}
        self._counters: dict[str, dict[int, int]] = {}

    def label(self, p: Any) -> str:
        """The number Word shows before paragraph ``p`` ("4.2", "(b)"), or ""."""
        nid, ilvl = self._num_of(p)
        if nid is None or ilvl not in self._levels.get(nid, {}):
            return ""
        levels = self._levels[nid]
        counters = self._counters.setdefault(nid, {})
        starts = self._starts.get(nid, {})
        level = levels[ilvl]
        counters[ilvl] = counters.get(ilvl, starts.get(ilvl, level.start) - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            lvl = levels.get(deeper)
            if lvl is None or lvl.restart == -1 or lvl.restart > ilvl:
                del counters[deeper]  # a new "4." restarts its "4.1"
        if level.fmt in ("bullet", "none") or not level.text:
            return ""

        def number(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lvl = levels.get(k)
            n = counters.get(k, starts.get(k, lvl.start if lvl else 1))
            return _format(n, "decimal" if level.legal or lvl is None else lvl.fmt)

        return _LEVEL_REF.sub(number, level.text).strip()

    def _num_of(self, p: Any) -> tuple[str | None, int]:
        ppr = p.find(W + "pPr")
        if ppr is None:
            return None, 0
        numpr = ppr.find(W + "numPr")
        style = _val(ppr, "pStyle")
        if numpr is not None:
            nid = _val(numpr, "numId")
            if nid is not None:  # "0" takes the style's numbering away
                return (nid if nid != "0" else None), _int(_val(numpr, "ilvl"), 0)
        if style and style in self._style_num:
            nid, ilvl = self._style_num[style]
            if ilvl is None:
                ilvl = self._style_of_level.get(style, ("", 0))[1]
            return nid, ilvl
        return None, 0


def _style_numbering(styles: Any) -> dict[str, tuple[str, int | None]]:
    """style id -> (numId, level or None) for paragraph styles that number their paragraphs
    (headings of a legal document), following basedOn."""
    own: dict[str, tuple[str, int | None]] = {}
    based: dict[str, str] = {}
    for st in styles.iterchildren(W + "style"):
        sid = st.get(W + "styleId", "")
        numpr = st.find(f"{W}pPr/{W}numPr")
        if numpr is not None and _val(numpr, "numId"):
            ilvl = _val(numpr, "ilvl")
            own[sid] = (_val(numpr, "numId") or "", _int(ilvl, 0) if ilvl is not None else None)
        base = _val(st, "basedOn")
        if base:
            based[sid] = base
    return {k: v for k, v in inherited(own, based).items() if v[0] != "0"}


def inherited(own: dict[str, T], based: dict[str, str]) -> dict[str, T]:
    """``own`` values of styles, given to the styles based on them (at any depth) that have
    none of their own: a custom "My Heading" based on Heading 2 is a heading too."""
    out = dict(own)
    for sid in based:
        cur, seen = sid, set()
        while cur not in own and cur in based and cur not in seen:
            seen.add(cur)
            cur = based[cur]
        if cur in own and sid not in out:
            out[sid] = own[cur]
    return out


def _format(n: int, fmt: str) -> str:
    if fmt in ("lowerLetter", "upperLetter"):
        s = _letters(n)
        return s.upper() if fmt == "upperLetter" else s
    if fmt in ("lowerRoman", "upperRoman"):
        s = _roman(n)
        return s.upper() if fmt == "upperRoman" else s
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)  # decimal, and the formats of other scripts, as digits


def _letters(n: int) -> str:
    """a..z, then aa, bb... as Word counts."""
    if n <= 0:
        return str(n)
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _roman(n: int) -> str:
    if not 0 < n < 4000:
        return str(n)
    out = []
    for value, numeral in _ROMAN:
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def _val(el: Any, name: str) -> str | None:
    child = el.find(W + name)
    return child.get(_VAL) if child is not None else None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
