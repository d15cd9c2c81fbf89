"""Hybrid retrieval: BM25 from LanceDB's full-text index and vector similarity, fused by rank.

Reciprocal-rank fusion needs no score calibration between the two lists, which matters
because BM25 scores and cosine similarities live on unrelated scales. The weights and the
candidate depth were tuned on SciFact's train queries (bench/bench_quality.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .embed import Embedder
from .errors import QuireError
from .paths import sql_str
from .store import Store
from .types import Hit, SearchResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FusionParams:
    rrf_k: float = 60.0
    bm25_weight: float = 1.0
    vector_weight: float = 1.0
    depth: int = 100  # candidates taken from each list before fusing


def filter_expr(folder: str | None = None, kinds: Sequence[str] | None = None) -> str | None:
    """A LanceDB filter for a library folder and/or parser kinds, every value quoted."""
    parts = []
    if folder:
        parts.append(f"folder = {sql_str(folder)}")
    if kinds:
        parts.append("kind IN (" + ",".join(sql_str(k) for k in kinds) + ")")
    return " AND ".join(parts) or None


class Searcher:
    def __init__(self, store: Store, embedder: Embedder | None, mode: str = "hybrid",
                 no_vectors_reason: str = "", params: FusionParams | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.mode = mode if embedder is not None else "keyword"
        self.no_vectors_reason = no_vectors_reason
        self.params = params or FusionParams()

    def search(self, query: str, k: int = 8, folder: str | None = None,
               kinds: Sequence[str] | None = None, mode: str | None = None) -> SearchResult:
        query = query.strip()
        if not query:
            return SearchResult((), self.mode, "empty query")
        want = mode or self.mode
        if want != "keyword" and self.embedder is None:
            want = "keyword"
        where = filter_expr(folder, kinds)
        depth = max(self.params.depth, k)
        note = ""
        if self.mode == "keyword" and self.no_vectors_reason:
            note = f"keyword search only: {self.no_vectors_reason}"

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

        if want == "keyword":
            hits = [_hit(r, float(r.get("_score", 0.0))) for r in bm25[:k]]
        elif want == "vector":
            hits = [_hit(r, s) for r, s in vec[:k]]
        else:
            hits = self._fuse(bm25, vec, k)
        return SearchResult(tuple(hits), want, note)

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

    def _fuse(self, bm25: list[dict[str, Any]], vec: list[tuple[dict[str, Any], float]], k: int) -> list[Hit]:
        p = self.params
        score: dict[str, float] = {}
        rows: dict[str, dict[str, Any]] = {}
        # While the embedder catches up, a passage without a vector can only score from one
        # list and would lose to any embedded one; it is given its keyword rank in both.
        unembedded = set(self.store.missing_vectors([r["text_hash"] for r in bm25])) if vec else set()
        for rank, r in enumerate(bm25):
            w = p.bm25_weight + (p.vector_weight if r["text_hash"] in unembedded else 0.0)
            score[r["id"]] = score.get(r["id"], 0.0) + w / (p.rrf_k + rank + 1)
            rows[r["id"]] = r
        for rank, (r, _) in enumerate(vec):
            score[r["id"]] = score.get(r["id"], 0.0) + p.vector_weight / (p.rrf_k + rank + 1)
            rows.setdefault(r["id"], r)
        best = sorted(score, key=lambda i: score[i], reverse=True)[:k]
        return [_hit(rows[i], score[i]) for i in best]


def _hit(r: dict[str, Any], score: float) -> Hit:
    page = r.get("page")
    return Hit(path=r["path"], page=int(page) if page is not None else None, score=score, text=r["text"],
               heading=r.get("heading") or "", chunk_id=r["id"], folder=r.get("folder") or "",
               kind=r.get("kind") or "")
