"""Token-budgeted text splitting: paragraphs, then sentences, then clauses, then words.

The same recipe as llama-index's ``SentenceSplitter`` (split only the pieces that are too
big, at the strongest boundary available, then merge pieces greedily up to the budget and
start each chunk with the previous one's last pieces as overlap), written for speed: it was
most of indexing time with a cheap embedder (bench/README.md, "Why Quire has its own
splitter"). Every piece keeps its trailing whitespace, so a chunk is an exact slice of the
section's text, and a piece's token count is computed once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Strongest boundary first. Each pattern captures a whole separator, which stays with the
# piece before it (so the pieces join back into the exact text).
_LEVELS = (
    re.compile(r"(\n[ \t\r\f\v]*\n\s*)"),  # blank line(s): paragraphs
    # A sentence ends at . ! ? or an ellipsis (with any closing quotes or brackets) before
    # whitespace, or at CJK full stops, which are not followed by spaces. Written to start
    # with one character class (the lookbehinds pick the branch) because re then skips to
    # candidates quickly: 2.3x faster than the plain alternation, the same splits.
    re.compile(r"([.!?\u2026\u3002\uff01\uff1f](?:(?<=[.!?\u2026])[\"'\u201d\u2019)\]]*\s+"
               r"|(?<=[\u3002\uff01\uff1f])\s*))"),
    re.compile(r"([,;:\u3001\uff0c\uff1b]\s+)"),  # clauses
    re.compile(r"(\s+)"),  # words
)


def _cut(text: str, rx: re.Pattern[str]) -> list[str]:
    parts = rx.split(text)  # [piece, separator, piece, separator, ..., rest]
    if len(parts) == 1:
        return parts
    out = [a + b for a, b in zip(parts[0::2], parts[1::2], strict=False)]  # the rest has no pair
    if parts[-1]:
        out.append(parts[-1])
    return out


class TextSplitter:
    """``split(text, budget)`` -> chunk texts, each at most ``budget`` tokens by ``count``.

    With ``additive`` (``count`` adds up over whitespace-separated pieces, which
    ``chunking.make_token_counter`` checks for the model's tokenizer) the budget is exact and
    each word is counted once; otherwise pieces are counted whole. A piece with no
    boundary at all that is still too big (a long unbroken string) is cut by characters
    into chunks of its own, each counted exactly.
    """

    def __init__(self, count: Callable[[str], int], chunk_size: int, chunk_overlap: int,
                 *, additive: bool = True) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        if not 0 <= chunk_overlap < chunk_size:
            raise ValueError("chunk_overlap must be at least 0 and less than chunk_size")
        self.count = count
        self.additive = additive  # count(a + " " + b) == count(a) + count(b)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def split(self, text: str, budget: int | None = None) -> list[str]:
        budget = min(budget or self.chunk_size, self.chunk_size)
        overlap = min(self.chunk_overlap, budget // 2)
        pieces: list[tuple[str, int, bool]] = []  # (text, tokens, an unbreakable slice)
        # Cutting the whole text into paragraphs first changes nothing when it fits (the merge
        # joins them back into the same one chunk). Each paragraph is counted as the sum of its
        # sentences, so every word is counted once, not once per level.
        for para in _cut(text, _LEVELS[0]):
            sentences = _cut(para, _LEVELS[1])
            counts = [self.count(x) for x in sentences]
            n = sum(counts) if self.additive else self.count(para)
            if n <= budget or len(sentences) == 1:
                self._pieces(para, n, 1, budget, pieces)
            else:
                for x, k in zip(sentences, counts, strict=True):
                    self._pieces(x, k, 2, budget, pieces)
        return self._merge(pieces, budget, overlap)

    def _pieces(self, text: str, n: int, level: int, budget: int,
                out: list[tuple[str, int, bool]]) -> None:
        if n <= budget:
            if n or text.strip():
                out.append((text, n, False))
            return
        while level < len(_LEVELS):
            parts = _cut(text, _LEVELS[level])
            level += 1
            if len(parts) > 1:
                for p in parts:
                    self._pieces(p, self.count(p), level, budget, out)
                return
        self._slices(text, n, budget, out)

    def _slices(self, text: str, n: int, budget: int, out: list[tuple[str, int, bool]]) -> None:
        """A run with no boundary left: cut by characters, shrinking a slice until it fits."""
        pos = 0
        while pos < len(text):
            step = max(1, int(len(text) * budget / max(n, 1) * 0.9))
            while True:
                piece = text[pos:pos + step]
                k = self.count(piece)
                if k <= budget or step == 1:
                    break
                step = max(1, int(step * budget / k * 0.95))
            out.append((piece, k, True))
            pos += len(piece)

    @staticmethod
    def _merge(pieces: list[tuple[str, int, bool]], budget: int, overlap: int) -> list[str]:
        chunks: list[str] = []
        cur: list[tuple[str, int]] = []
        cur_n = 0
        fresh = 0  # pieces in ``cur`` that are not overlap carried from the previous chunk

        def emit() -> None:
            if fresh:
                s = "".join(t for t, _ in cur).strip()
                if s:
                    chunks.append(s)

        for text, n, whole in pieces:
            if whole:  # character slices are chunks of their own: no overlap across a cut word
                emit()
                cur, cur_n, fresh = [], 0, 0
                s = text.strip()
                if s:
                    chunks.append(s)
                continue
            if cur and cur_n + n > budget:
                emit()
                keep: list[tuple[str, int]] = []
                k = 0
                for t, m in reversed(cur):
                    if k + m > overlap:
                        break
                    keep.append((t, m))
                    k += m
                keep.reverse()
                while keep and k + n > budget:
                    k -= keep.pop(0)[1]
                cur, cur_n, fresh = keep, k, 0
            cur.append((text, n))
            cur_n += n
            fresh += 1
        emit()
        return chunks
