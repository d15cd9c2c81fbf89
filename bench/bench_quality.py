"""Retrieval quality on BEIR SciFact: BM25 alone, vectors alone, hybrid; fusion tuned on train only.

    .venv/bin/python bench/bench_quality.py                 # uses/builds the cached index (~8 min once)
    .venv/bin/python bench/bench_quality.py --format md     # "# title" Markdown files instead of .txt
    .venv/bin/python bench/bench_quality.py --quick         # 500 abstracts, test queries about them only
    .venv/bin/python bench/bench_quality.py --chunk 200,40  # another chunking (another cached index)

Corpus: each of the 5,183 abstracts of shared/eval/scifact/corpus.jsonl is a file <id>.txt holding
"title\\n\\ntext" (or, with --format md, <id>.md holding "# title\\n\\ntext": the title is then the
heading path, which Quire prepends to every chunk's embedded text but not to the BM25 text).
Indexed with `quire index` (MiniLM ONNX, the app's chunking) into a Quire home cached under
bench/out/scifact-<settings key>/, reused while the app's index format and settings match.

Scoring: a document's score is its best chunk's (its first appearance in the ranked chunk
list); the hit's path is mapped back to the abstract id. nDCG@10 (binary gains, from qrels)
and recall@100, averaged over the queries of qrels/test.tsv (300) or qrels/train.tsv (809).
No "ignore identical ids" quirk (BEIR's evaluator drops a hit whose doc id equals the query id).

Runs:
  bm25 / vector / hybrid   Quire's own Searcher (app.core.search) with its current FusionParams
  offline fusion           the same candidate lists (BM25 and vector chunk lists, depth 1,000,
                           cached once per index) fused here: reciprocal-rank fusion with a grid over
                           rrf_k, the two weights and the candidate depth; and score-based fusion
                           (min-max or z-score normalised, convex combination). Every parameter is
                           chosen on train queries; the test figures are reported for the chosen ones.
The offline RRF replica is checked against the Searcher on the same parameters (identical nDCG
expected), so a tuned setting means the same thing in the app.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import pickle
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    MINILM,
    OUT,
    SCIFACT,
    quire_index,
    scifact_docs,
    scifact_queries,
    secs,
    settings_key,
    table,
    write_result,
)

INDEX_VERSION = 2  # bump when the app's chunk/index format changes in a way the cache cannot see
DEPTH = 1000  # candidates cached per list


# --- data ------------------------------------------------------------------------------------

def read_qrels(name: str) -> dict[str, dict[str, int]]:
    q: dict[str, dict[str, int]] = {}
    with open(SCIFACT / "qrels" / f"{name}.tsv", encoding="utf-8") as f:
        next(f)
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                q.setdefault(qid, {})[did] = int(score)
    return q


def build_corpus(dest: Path, fmt: str, limit: int | None) -> int:
    docs = scifact_docs()
    if limit:
        docs = docs[:limit]
    dest.mkdir(parents=True, exist_ok=True)
    for d in docs:
        title, text = d["title"].strip(), d["text"].strip()
        body = f"# {title}\n\n{text}\n" if fmt == "md" else f"{title}\n\n{text}\n"
        (dest / f"{d['_id']}.{fmt}").write_text(body, encoding="utf-8")
    return len(docs)


def cached_index(fmt: str, chunk: tuple[int, int], limit: int | None) -> tuple[Path, dict[str, Any]]:
    """The Quire home for these settings, built (with `quire index`, MiniLM) if not cached."""
    key_doc = {"v": INDEX_VERSION, "format": fmt, "chunk": list(chunk), "limit": limit,
               "model": "all-MiniLM-L6-v2-onnx"}
    key = settings_key(key_doc)
    base = OUT / f"scifact-{fmt}-{chunk[0]}-{chunk[1]}{'-' + str(limit) if limit else ''}-{key}"
    info_file = base / "build.json"
    if info_file.exists():
        return base / "home", json.loads(info_file.read_text())
    shutil.rmtree(base, ignore_errors=True)
    docs = base / "docs"
    n = build_corpus(docs, fmt, limit)
    home = base / "home"
    home.mkdir(parents=True)
    (home / "settings.toml").write_text(
        f'[embedding]\nbackend = "fastembed"\nmodel_path = "{MINILM}"\n\n'
        f"[chunking]\nchunk_size = {chunk[0]}\nchunk_overlap = {chunk[1]}\n", encoding="utf-8")
    print(f"building the SciFact index ({n:,} files, {fmt}, chunks {chunk[0]}/{chunk[1]}) in {home} ...",
          flush=True)
    r = quire_index(home, "minilm", str(docs))
    info = {**key_doc, "files": n, "index_wall_s": r["wall_s"], "report": r["report"],
            "peak_rss": r["peak_rss_tree"], "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"  built in {secs(r['wall_s'])}: {r['report']['chunks_written']:,} chunks, "
          f"{r['report']['chunks_embedded']:,} embedded", flush=True)
    info_file.write_text(json.dumps(info, indent=2))
    return home, info


# --- metrics ---------------------------------------------------------------------------------

def ndcg_at(ranked: Sequence[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Sequence[str], rel: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def evaluate(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    nd = [ndcg_at(runs.get(q, []), rel) for q, rel in qrels.items()]
    rc = [recall_at(runs.get(q, []), rel) for q, rel in qrels.items()]
    return {"ndcg@10": sum(nd) / len(nd), "recall@100": sum(rc) / len(rc), "queries": len(nd),
            "per_query_ndcg": nd}


def doc_of(path: str) -> str:
    return Path(path).stem


def docs_from_chunks(chunk_paths: Sequence[str], k: int = 100) -> list[str]:
    """Ranked chunk paths -> ranked doc ids (a doc's score is its best chunk's)."""
    out: list[str] = []
    seen: set[str] = set()
    for p in chunk_paths:
        d = doc_of(p)
        if d not in seen:
            seen.add(d)
            out.append(d)
            if len(out) >= k:
                break
    return out


# --- candidates ------------------------------------------------------------------------------

def collect_candidates(home: Path, queries: dict[str, str], cache: Path) -> dict[str, Any]:
    """Per query: BM25 chunk list [(id, path, score)] and vector chunk list [(id, path, sim)], depth 1,000."""
    if cache.exists():
        with open(cache, "rb") as f:
            got = pickle.load(f)
        if set(queries) <= set(got):
            return got
    from app.core.config import Paths, load_settings
    from app.core.library import Library

    paths = Paths.default({"QUIRE_HOME": str(home)})
    settings = load_settings(paths, {})
    out: dict[str, Any] = {}
    with Library.open(paths, settings) as lib:
        s = lib.searcher()
        assert s.embedder is not None, "the SciFact index has no vectors"
        t0 = time.perf_counter()
        for n, (qid, q) in enumerate(queries.items()):
            bm = s.store.fts_search(q, DEPTH)
            vec = s._vector(q, DEPTH, None)
            out[qid] = {"bm25": [(r["id"], r["path"], float(r["_score"])) for r in bm],
                        "vector": [(r["id"], r["path"], float(sim)) for r, sim in vec]}
            if n % 200 == 199:
                print(f"  candidates: {n + 1:,}/{len(queries):,} queries ({secs(time.perf_counter() - t0)})",
                      flush=True)
    with open(cache, "wb") as f:
        pickle.dump(out, f)
    return out


def searcher_runs(home: Path, queries: dict[str, str], mode: str, params: Any = None,
                  fusion: Any = None) -> dict[str, list[str]]:
    """Quire's own Searcher, end to end (k=100 chunks -> docs)."""
    from app.core.config import Paths, load_settings
    from app.core.library import Library
    from app.core.search import Searcher

    paths = Paths.default({"QUIRE_HOME": str(home)})
    settings = load_settings(paths, {})
    runs: dict[str, list[str]] = {}
    with Library.open(paths, settings) as lib:
        s = lib.searcher()
        if params is not None:
            s = Searcher(s.store, s.embedder, s.mode, s.no_vectors_reason, params)
        if fusion is not None:
            from fusion_prototype import ScoreFusionSearcher

            s = ScoreFusionSearcher(s.store, s.embedder, s.mode, s.no_vectors_reason, fusion)
        for qid, q in queries.items():
            res = s.search(q, 100, mode=mode)
            runs[qid] = docs_from_chunks([h.path for h in res.hits])
    return runs


# --- fusion prototypes -----------------------------------------------------------------------

Cand = dict[str, Any]


def fuse_rrf(c: Cand, rrf_k: float, wb: float, wv: float, depth: int, k: int = 100) -> list[str]:
    """Exactly app.core.search.Searcher._fuse (chunk-level RRF), then chunks -> docs."""
    score: dict[str, float] = {}
    path: dict[str, str] = {}
    for rank, (cid, p, _) in enumerate(c["bm25"][:depth]):
        score[cid] = score.get(cid, 0.0) + wb / (rrf_k + rank + 1)
        path[cid] = p
    for rank, (cid, p, _) in enumerate(c["vector"][:depth]):
        score[cid] = score.get(cid, 0.0) + wv / (rrf_k + rank + 1)
        path.setdefault(cid, p)
    best = sorted(score, key=lambda i: score[i], reverse=True)[:max(k, 100)]
    return docs_from_chunks([path[i] for i in best], k)


def fuse_score(c: Cand, alpha: float, depth: int, how: str, k: int = 100) -> list[str]:
    """Score fusion (bench/fusion_prototype.py): alpha * norm(BM25) + (1 - alpha) * norm(cosine), chunk level."""
    from fusion_prototype import ScoreFusion, fuse_scores

    path = {cid: p for cid, p, _ in c["bm25"][:depth]}
    for cid, p, _ in c["vector"][:depth]:
        path.setdefault(cid, p)
    score = fuse_scores([(cid, s) for cid, _, s in c["bm25"]], [(cid, s) for cid, _, s in c["vector"]],
                        ScoreFusion(alpha, depth, how))
    best = sorted(score, key=lambda i: (-score[i], i))[:max(k, 100)]
    return docs_from_chunks([path[i] for i in best], k)


def single(c: Cand, which: str, k: int = 100) -> list[str]:
    return docs_from_chunks([p for _, p, _ in c[which]], k)


def run_all(cands: dict[str, Cand], qrels: dict[str, dict[str, int]],
            fn: Callable[[Cand], list[str]]) -> dict[str, float]:
    return evaluate({q: fn(cands[q]) for q in qrels if q in cands}, qrels)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n: int = 5000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b and its 95% bootstrap interval (queries resampled)."""
    rng = random.Random(seed)
    d = [x - y for x, y in zip(a, b, strict=True)]
    means = []
    for _ in range(n):
        s = [d[rng.randrange(len(d))] for _ in range(len(d))]
        means.append(sum(s) / len(s))
    means.sort()
    return sum(d) / len(d), means[int(0.025 * n)], means[int(0.975 * n)]


# --- main ------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 abstracts; only queries whose judged docs are in them")
    ap.add_argument("--format", choices=["txt", "md"], default="txt")
    ap.add_argument("--chunk", default="240,40", help="chunk_size,chunk_overlap for the index")
    ap.add_argument("--build-only", action="store_true")
    a = ap.parse_args()
    chunk = tuple(int(x) for x in a.chunk.split(","))
    limit = 500 if a.quick else None
    home, build = cached_index(a.format, chunk, limit)  # type: ignore[arg-type]
    if a.build_only:
        return 0
    allq = scifact_queries()
    test, train = read_qrels("test"), read_qrels("train")
    if limit:
        have = {d["_id"] for d in scifact_docs()[:limit]}
        test = {q: r for q, r in test.items() if set(r) & have}
        train = {q: r for q, r in train.items() if set(r) & have}
    qtext = {q: allq[q] for q in list(test) + list(train)}
    print(f"{len(test)} test and {len(train)} train queries; collecting candidates ...", flush=True)
    t0 = time.perf_counter()
    cands = collect_candidates(home, qtext, home.parent / f"candidates-{DEPTH}.pkl")
    print(f"  done in {secs(time.perf_counter() - t0)}", flush=True)

    from app.core.search import FusionParams

    cur = FusionParams()
    results: dict[str, Any] = {"build": build, "format": a.format, "chunk": chunk, "quick": a.quick,
                               "fusion_params_in_app": {"fusion": "score / best", "bm25_weight": cur.bm25_weight,
                                                        "depth": cur.depth}}
    # 1. Quire's own Searcher, end to end, on test and train.
    app_runs: dict[str, dict[str, Any]] = {}
    for mode in ("keyword", "vector", "hybrid"):
        for split, qrels in (("test", test), ("train", train)):
            t = time.perf_counter()
            runs = searcher_runs(home, {q: allq[q] for q in qrels}, mode)
            app_runs[f"{mode}/{split}"] = {**evaluate(runs, qrels), "seconds": time.perf_counter() - t}
    # 2. Offline replicas and the plain-RRF baseline (k=60, equal weights, depth 100).
    plain = lambda c: fuse_rrf(c, 60, 1, 1, 100)  # noqa: E731
    base = {split: run_all(cands, qr, plain) for split, qr in (("test", test), ("train", train))}
    app_params = lambda c: fuse_score(c, cur.bm25_weight, cur.depth, "max")  # noqa: E731
    replica = {split: run_all(cands, qr, app_params) for split, qr in (("test", test), ("train", train))}
    results["replica_check"] = {s: {"offline": replica[s]["ndcg@10"], "searcher": app_runs[f"hybrid/{s}"]["ndcg@10"]}
                                for s in ("test", "train")}

    # 3. Grids, chosen on train.
    print("tuning on train ...", flush=True)
    rrf_grid = list(itertools.product([1, 2, 5, 10, 20, 30, 45, 60, 80, 120],
                                      [0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0],  # vector weight (bm25 = 1)
                                      [20, 50, 100, 200, 400]))
    best_rrf = None
    for rk, wv, d in rrf_grid:
        m = run_all(cands, train, lambda c, rk=rk, wv=wv, d=d: fuse_rrf(c, rk, 1.0, wv, d))
        if best_rrf is None or m["ndcg@10"] > best_rrf[0]:
            best_rrf = (m["ndcg@10"], {"rrf_k": rk, "bm25_weight": 1.0, "vector_weight": wv, "depth": d})
    assert best_rrf is not None
    score_best: dict[str, Any] = {}
    for how in ("minmax", "zscore", "max"):
        best = None
        for alpha in [i / 20 for i in range(1, 20)]:
            for d in (20, 50, 100, 200):
                m = run_all(cands, train, lambda c, al=alpha, d=d, h=how: fuse_score(c, al, d, h))
                if best is None or m["ndcg@10"] > best[0]:
                    best = (m["ndcg@10"], {"alpha": alpha, "depth": d, "norm": how})
        score_best[how] = best
    # 4. Test figures for the chosen parameters.
    p = best_rrf[1]
    def tuned(c: Cand) -> list[str]:
        return fuse_rrf(c, p["rrf_k"], p["bm25_weight"], p["vector_weight"], p["depth"])

    rrf_test = run_all(cands, test, tuned)
    rrf_train = run_all(cands, train, tuned)
    score_test = {}
    for how, (_, sp) in score_best.items():
        score_test[how] = {
            "params": sp,
            "test": run_all(cands, test, lambda c, sp=sp: fuse_score(c, sp["alpha"], sp["depth"], sp["norm"])),
            "train": run_all(cands, train, lambda c, sp=sp: fuse_score(c, sp["alpha"], sp["depth"], sp["norm"])),
        }
    # The best score fusion on train (over the three normalisations), end to end through the
    # prototype Searcher subclass: what the app would answer with it.
    from fusion_prototype import ScoreFusion

    best_how = max(score_best, key=lambda h: score_best[h][0])
    bp = score_best[best_how][1]
    proto_test = evaluate(searcher_runs(home, {q: allq[q] for q in test}, "hybrid",
                                        fusion=ScoreFusion(bp["alpha"], bp["depth"], bp["norm"])), test)

    rows = []

    def row(name: str, te: dict[str, Any], tr: dict[str, Any] | None, note: str = "") -> None:
        ci = ""
        if te is not base["test"] and "per_query_ndcg" in te:
            mean, lo, hi = paired_bootstrap(te["per_query_ndcg"], base["test"]["per_query_ndcg"])
            ci = f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        rows.append([name, f"{te['ndcg@10']:.3f}", f"{te['recall@100']:.3f}",
                     f"{tr['ndcg@10']:.3f}" if tr else "", ci, note])

    row("BM25 alone (Searcher keyword)", app_runs["keyword/test"], app_runs["keyword/train"])
    row("vectors alone (Searcher vector)", app_runs["vector/test"], app_runs["vector/train"])
    row("plain RRF k=60, 1:1, depth 100 (offline)", base["test"], base["train"], "baseline")
    row(f"hybrid as shipped (Searcher, score fusion w={cur.bm25_weight:g}, depth {cur.depth})",
        app_runs["hybrid/test"], app_runs["hybrid/train"])
    row(f"RRF tuned on train: k={p['rrf_k']}, bm25 {p['bm25_weight']:g}, vector {p['vector_weight']:g}, "
        f"depth {p['depth']} (offline)", rrf_test, rrf_train)
    for how, r in score_test.items():
        sp = r["params"]
        row(f"score fusion {how}: {sp['alpha']:.2f}*BM25 + {1 - sp['alpha']:.2f}*cos, depth {sp['depth']} "
            "(offline prototype)", r["test"], r["train"])
    row(f"  best on train ({best_how}), through ScoreFusionSearcher (bench/fusion_prototype.py)", proto_test, None)
    title = (f"SciFact — {build['files']:,} abstracts as .{a.format} files, chunks {chunk[0]}/{chunk[1]}, "
             f"{build['report']['chunks_written']:,} chunks, MiniLM")
    text = (f"\n## {title}\n\n"
            + table(["run", "nDCG@10 test", "recall@100 test", "nDCG@10 train", "Δ nDCG vs plain RRF (95% CI)", ""],
                    rows)
            + "\n\nreplica check (offline RRF with the app's params vs Searcher): "
            + ", ".join(f"{s} {v['offline']:.4f} vs {v['searcher']:.4f}" for s, v in results["replica_check"].items()))
    print(text, flush=True)

    def strip(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if k != "per_query_ndcg"}

    results.update({
        "app": {k: strip(v) for k, v in app_runs.items()},
        "plain_rrf": {k: strip(v) for k, v in base.items()},
        "rrf_tuned": {"params": p, "train_ndcg": best_rrf[0], "test": strip(rrf_test), "train": strip(rrf_train)},
        "score_fusion": {h: {"params": r["params"], "test": strip(r["test"]), "train": strip(r["train"])}
                         for h, r in score_test.items()},
        "score_fusion_chosen": {"params": bp, "test_through_searcher": strip(proto_test)},
        "report": text,
    })
    path = write_result(f"quality-{a.format}-{chunk[0]}-{chunk[1]}" + ("-quick" if a.quick else ""), results)
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
