"""Prototype: score-based fusion for app.core.search, as a drop-in Searcher subclass.

Measured with bench/bench_quality.py on SciFact (tuned on train, reported on test): plain
reciprocal-rank fusion (the app's _fuse) cannot reach 0.72 nDCG@10 whatever its k, weights or
depth; combining the two lists' *scores*, each divided by its list's best score, does. The
lead may move ``fuse_scores`` into ``Searcher._fuse`` (and its parameters into FusionParams).

    score(chunk) = w * bm25(chunk) / max_bm25 + (1 - w) * cos(chunk) / max_cos

over the top ``depth`` chunks of each list. A chunk missing from one list gets that list's lowest
normalised score (it ranked below every candidate there; 0 would punish it more than its
absence says). Dividing by the list's best score keeps each list's own spread (BM25 gaps stay
meaningful), needs no score calibration across queries, and costs nothing.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.search import FusionParams, Searcher


@dataclass(frozen=True, slots=True)
class ScoreFusion:
    bm25_weight: float = 0.35  # w; the vector side gets 1 - w
    depth: int = 100
    norm: str = "max"  # "max" (score / best), "minmax", "zscore"


def normalise(values: list[float], how: str) -> list[float]:
    if not values:
        return []
    if how == "max":
        top = max(values)
        return [v / top for v in values] if top > 0 else [0.0 for _ in values]
    if how == "minmax":
        lo, hi = min(values), max(values)
        return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]
    if how == "zscore":
        m = sum(values) / len(values)
        sd = math.sqrt(sum((v - m) ** 2 for v in values) / len(values)) or 1.0
        return [(v - m) / sd for v in values]
    raise ValueError(how)


def fuse_scores(bm25: list[tuple[str, float]], vec: list[tuple[str, float]], p: ScoreFusion) -> dict[str, float]:
    """(chunk id, raw score) lists, best first -> fused score per chunk id."""
    b, v = bm25[:p.depth], vec[:p.depth]
    nb = normalise([s for _, s in b], p.norm)
    nv = normalise([s for _, s in v], p.norm)
    sb = dict(zip((i for i, _ in b), nb, strict=True))
    sv = dict(zip((i for i, _ in v), nv, strict=True))
    floor_b = min(nb) if nb else 0.0
    floor_v = min(nv) if nv else 0.0
    w = p.bm25_weight
    return {i: w * sb.get(i, floor_b) + (1 - w) * sv.get(i, floor_v) for i in {*sb, *sv}}


class ScoreFusionSearcher(Searcher):
    """app.core.search.Searcher with _fuse replaced by score fusion (everything else unchanged)."""

    def __init__(self, store: Any, embedder: Any, mode: str = "hybrid", no_vectors_reason: str = "",
                 fusion: ScoreFusion | None = None) -> None:
        self.fusion = fusion or ScoreFusion()
        super().__init__(store, embedder, mode, no_vectors_reason,
                         FusionParams(self.fusion.bm25_weight, self.fusion.depth))

    def _fuse(self, bm25: list[dict[str, Any]], vec: list[tuple[dict[str, Any], float]],
              depth: int) -> list[tuple[dict[str, Any], float]]:
        rows: dict[str, dict[str, Any]] = {}
        for r in bm25:
            rows[r["id"]] = r
        for r, _ in vec:
            rows.setdefault(r["id"], r)
        score = fuse_scores([(r["id"], float(r.get("_score", 0.0))) for r in bm25],
                            [(r["id"], float(s)) for r, s in vec], self.fusion)
        return [(rows[i], score[i]) for i in sorted(score, key=lambda i: (-score[i], i))]
