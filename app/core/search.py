"""Hybrid retrieval: BM25 from LanceDB's full-text index and vector similarity, fused.

BM25 scores and cosine similarities live on unrelated scales, so each list is divided by its
own best score before the two are combined: that keeps each list's spread (a clear BM25
winner stays clear) without calibrating scores across queries. The weight and the
candidate depth were tuned on SciFact's train queries (bench/bench_quality.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .embed import Embedder
from .errors import QuireError, UsageError
from .parse import SNIFF, SUPPORTED_KINDS, kind_of_name
from .paths import sql_str
from .store import Store
from .types import Hit, SearchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FusionParams:
    """Score fusion: each list's scores divided by its best, then ``w * bm25 + (1 - w) * vector``.
    Tuned on SciFact's train queries (bench/bench_quality.py, bench/fusion_prototype.py); it
    beat reciprocal-rank fusion, which no choice of k, weights or depth lifted past 0.716."""

    bm25_weight: float = 0.35
    depth: int = 100  # candidates taken from each list before fusing


# A query that shares no word with the library and whose nearest passage is this far in meaning
# matches nothing (a one-letter file came first for "xyzzyplugh", with a score of 1.0). Per
# model, measured with MiniLM: nonsense and off-topic questions reach 0.00-0.06 in a small
# library but 0.13-0.33 in SciFact's 5,183 abstracts, and real paraphrases can be as low as 0.20
# ("moving out of my flat" against "either party may end the lease"), so no floor separates the
# two in general; this one only says so where nothing is near at all. Models not measured: none.
UNRELATED_BELOW = {"sentence-transformers/all-MiniLM-L6-v2": 0.10}
UNRELATED_NOTE = "no passage shares a word with the query or comes near it in meaning"


def filter_expr(folder: str | None = None, kinds: Sequence[str] | None = None, under: str | None = None) -> str | None:
    """A LanceDB filter for a library folder, a folder inside one (``under``: a path prefix, as
    the path column shows it) and/or parser kinds, every value quoted."""
    parts = []
    if folder:
        parts.append(f"folder = {sql_str(folder)}")
    if under:
        parts.append(f"starts_with(path, {sql_str(under)})")
    if kinds:
        parts.append("kind IN (" + ",".join(sql_str(k) for k in kinds) + ")")
    return " AND ".join(parts) or None


def search_kinds(names: Sequence[str]) -> list[str]:
    """The kinds a file-type filter asks for. Each name is a kind ("markdown", "pdf") or an
    extension ("md", ".py", "htm"); an unknown one is refused with the kinds there are, since
    an empty result would read as "nothing matches". "text" also finds rows an older Quire
    wrote for files without an extension (kind "text?")."""
    kinds: list[str] = []
    for name in names:
        n = name.strip().lower().lstrip(".")
        kind = n if n in SUPPORTED_KINDS else kind_of_name("x." + n) if n else None
        if kind is None or kind == SNIFF:
            raise UsageError(f"{name!r} is not a kind of file Quire reads.",
                             f"Use one of: {', '.join(sorted(SUPPORTED_KINDS))}, or an extension such as md or py.")
        kinds += [kind, SNIFF] if kind == "text" else [kind]
    return list(dict.fromkeys(kinds))


class Searcher:
    def __init__(self, store: Store, embedder: Embedder | None, mode: str = "hybrid",
                 no_vectors_reason: str = "", params: FusionParams | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode if embedder is not None else "keyword"
        self.no_vectors_reason = no_vectors_reason
        self.params = params or FusionParams()

    def search(self, query: str, k: int = 8, folder: str | None = None,
               kinds: Sequence[str] | None = None, mode: str | None = None, under: str | None = None) -> SearchResult:
        # Bytes a terminal could not decode arrive as lone surrogates (Python's argv), which
        # no index can take: searched with the replacement character instead.
        query = _storable_text(query).strip()
        if not query:
            return SearchResult((), self.mode, "empty query")
        want = mode or self.mode
        if want != "keyword" and self.embedder is None:
            want = "keyword"
        where = filter_expr(folder, kinds, under)
        note = ""
        if self.mode == "keyword" and self.no_vectors_reason:
            note = f"keyword search only: {self.no_vectors_reason}"
        depth = max(self.params.depth, k)
        asked = want
        while True:
            ranked, want, why = self._ranked(query, asked, depth, where)
            hits, collapsed = _distinct(ranked, k)
            # Copies of one passage (a licence header in every file, a document saved in two
            # folders) are one hit: when they crowded the candidates, look deeper once.
            if len(hits) >= k or not collapsed or len(ranked) < depth or depth > self.params.depth:
                break
            depth *= 4
        if want != "vector" and not hits and self.store.keyword_terms(query) == []:
            # Not "nothing matches": nothing was looked for ("what is it" is all stop words).
            why = _join("" if why == UNRELATED_NOTE else why,
                        f'"{query}" has only words too common to search by; add a more specific one')
        note = _join(note, why)
        return SearchResult(tuple(hits), want, note)

    def _ranked(self, query: str, want: str, depth: int,
                where: str | None) -> tuple[list[tuple[dict[str, Any], float]], str, str]:
        """Every candidate, best first, with its score; the mode used; a note on why it changed."""
        note = ""
        bm25: list[dict[str, Any]] = []
        if want in ("hybrid", "keyword"):
            bm25 = self.store.fts_search(query, depth, where)
        vec: list[tuple[dict[str, Any], float]] = []
        if want in ("hybrid", "vector") and self.embedder is not None:
            try:
                vec = self._vector(query, depth, where)
            except QuireError as exc:
                want, note = "keyword", f"keyword search only: {exc.message}"
                bm25 = bm25 or self.store.fts_search(query, depth, where)
        if want == "hybrid" and not bm25 and vec and vec[0][1] < self._unrelated_below():
            return [], want, UNRELATED_NOTE
        if want == "keyword":
            return [(r, float(r.get("_score", 0.0))) for r in bm25], want, note
        if want == "vector":
            return vec, want, note
        return self._fuse(bm25, vec, depth), want, note

    def _unrelated_below(self) -> float:
        return UNRELATED_BELOW.get(self.embedder.info.model, 0.0) if self.embedder is not None else 0.0

    def _vector(self, query: str, depth: int, where: str | None) -> list[tuple[dict[str, Any], float]]:
        assert self.embedder is not None
        qv = self.embedder.embed([query])[0]
        # A filter applies to chunks, not vectors: look deeper so enough survive it.
        scored = self.store.vector_search(qv, depth * (4 if where else 1))
        if not scored:
            return []
        rows = self.store.chunks_by_hash([h for h, _ in scored], where)
        by_hash: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            by_hash.setdefault(r["text_hash"], []).append(r)
        out: list[tuple[dict[str, Any], float]] = []
        for h, sim in scored:
            for r in sorted(by_hash.get(h, ()), key=lambda r: r["id"]):
                out.append((r, sim))
        return out[:depth]

    def _fuse(self, bm25: list[dict[str, Any]], vec: list[tuple[dict[str, Any], float]],
              depth: int) -> list[tuple[dict[str, Any], float]]:
        w = self.params.bm25_weight
        b = bm25[:depth]
        v = vec[:depth]
        nb = _by_best([float(r.get("_score", 0.0)) for r in b])
        nv = _by_best([s for _, s in v])
        sb = {r["id"]: x for r, x in zip(b, nb, strict=True)}
        sv: dict[str, float] = {}
        for (r, _), x in zip(v, nv, strict=True):
            sv.setdefault(r["id"], x)
        rows: dict[str, dict[str, Any]] = {r["id"]: r for r in b}
        for r, _ in v:
            rows.setdefault(r["id"], r)
        # A chunk absent from a full list ranked below all of its candidates: it gets the list's
        # lowest score. From a list that ran out before ``depth`` it is absent because it does not
        # match at all: 0. One absent from the vectors only because the embedder has not reached
        # it yet (watch mode catching up) is judged by its keywords on both sides.
        full = depth
        floor_b = min(nb) if len(nb) >= full else 0.0
        floor_v = min(nv) if len(nv) >= full else 0.0
        unembedded = set(self.store.missing_vectors([r["text_hash"] for r in b])) if v else set()
        score = {}
        for i, r in rows.items():
            kw = sb.get(i, floor_b)
            vs = sv.get(i, kw if r["text_hash"] in unembedded else floor_v)
            score[i] = w * kw + (1 - w) * vs
        return [(rows[i], score[i]) for i in sorted(score, key=lambda i: (-score[i], i))]


def _distinct(ranked: list[tuple[dict[str, Any], float]], k: int) -> tuple[list[Hit], bool]:
    """The best ``k`` hits with one hit per passage text: copies of a passage (the same text
    hash in other files) are named in its hit's ``also``. Of the copies, the hit shows the
    one that looks like the original ("notes.txt" before "notes (1).txt" or "Copy of
    notes.txt"). Also says whether any copy was folded in."""
    slots: list[tuple[float, list[dict[str, Any]]]] = []
    slot: dict[str, int] = {}
    collapsed = False
    for r, score in ranked:
        key = r.get("text_hash") or r["id"]
        i = slot.get(key)
        if i is not None:
            collapsed = True
            slots[i][1].append(r)
        elif len(slots) < k:
            slot[key] = len(slots)
            slots.append((score, [r]))
    hits = []
    for score, rows in slots:
        best = min(rows, key=lambda r: (len(os.path.basename(r["path"])), len(r["path"]), r["path"]))
        also = [p for p in dict.fromkeys(r["path"] for r in rows) if p != best["path"]]
        hits.append(replace(_hit(best, score), also=tuple(also)) if also else _hit(best, score))
    return hits, collapsed


def _by_best(values: list[float]) -> list[float]:
    top = max(values, default=0.0)
    return [x / top for x in values] if top > 0 else [0.0 for _ in values]


def _hit(r: dict[str, Any], score: float) -> Hit:
    page = r.get("page")
    return Hit(path=r["path"], page=int(page) if page is not None else None, score=score, text=r["text"],
               heading=r.get("heading") or "", chunk_id=r["id"], folder=r.get("folder") or "",
               kind=r.get("kind") or "")


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a and b else a or b


def _storable_text(text: str) -> str:
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # half an emoji, not an undecodable byte
        return text.encode("utf-8", "replace").decode("utf-8")
