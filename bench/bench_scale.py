"""Scale: search latency at 10k / 100k / 1M chunks, disk size, and indexing memory at 1x and 10x.

    .venv/bin/python bench/bench_scale.py                 # ~20-30 min on 2 cores (1M is most of it)
    .venv/bin/python bench/bench_scale.py --quick         # 10k and 50k chunks, small memory runs
    .venv/bin/python bench/bench_scale.py --sizes 10000,100000 --no-memory
    .venv/bin/python bench/bench_scale.py --no-latency    # only the 1x / 10x memory runs
    .venv/bin/python bench/bench_scale.py --no-latency --no-memory --unindexed 100000   # flat-scan cost
    .venv/bin/python bench/bench_scale.py --sizes 1000000 --no-memory --ivf-sweep   # probes/refine trade-off

Part 1, latency. For each size a fresh Store (app.core.store.Store) is filled directly:
  chunk rows through Store.replace_files in batches of 10,000 (no files are parsed), each chunk
  3-6 random sentences of SciFact abstracts (~110 words, real term statistics), 100 chunks per
  synthetic file, 50 library folders; one vector per chunk through Store.add_vectors: random
  unit 384-d vectors around 2,000 random centres (clustered, as real embeddings are); then
  Store.maintain() builds what Quire builds: the FTS index, the BTree indexes and, from
  100,000 vectors on, IVF-PQ. "maintain again" is a second Store.maintain() with nothing new:
  what every later `quire index` run pays at that size. Then a fresh process (this script with --measure) opens the
  store read-only and runs 5 warm-up + 100 queries per mode through app.core.search.Searcher:
  keyword (BM25), vector, hybrid, and hybrid with a folder filter. Query texts are SciFact
  claims; query vectors are near a random centre. The query embedding is not in these
  figures (MiniLM adds ~10-20 ms a query here; see bench_vs_llamaindex.py).

Part 3 (--unindexed N), rows not yet in the full-text index: a store of N chunks as in part 1,
then 2,048-row batches appended without upkeep (as a long run or the watcher leaves them), and
keyword search (Store.fts_search, k=10) timed at each count of unindexed rows. LanceDB finds
those rows by tokenizing their text at every query.

Part 2, memory. Peak RSS (process + parser workers) of `quire index` on a corpus and on one
ten times larger: backend "none" (500 vs 5,000 files of ~8 KB) and MiniLM (100 vs 1,000
one-abstract files).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import (
    PY,
    make_mixed_corpus,
    mb,
    pct,
    quire_index,
    run_measured,
    sample_queries,
    scifact_docs,
    secs,
    table,
    workdir,
    write_result,
)

DIM = 384
CENTRES = 2000
ROWS_PER_FILE = 100
FOLDERS = 50
BATCH = 10_000


def _sentences() -> list[str]:
    out = []
    for d in scifact_docs():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", d["text"]) if len(s.strip()) > 20)
    return out


def _centres(seed: int = 0) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    c = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def _vectors(rng: Any, centres: Any, n: int) -> Any:
    import numpy as np

    idx = rng.integers(0, len(centres), n)
    v = centres[idx] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def build_store(uri: Path, n: int, seed: int = 0) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa

    from app.core.store import CHUNK_SCHEMA, Store, disk_bytes

    shutil.rmtree(uri, ignore_errors=True)
    sents = _sentences()
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    centres = _centres()
    store = Store(uri, "chunks_1", "vectors_synthetic")
    t0 = time.perf_counter()
    t_text = t_vec = 0.0
    for start in range(0, n, BATCH):
        m = min(BATCH, n - start)
        s = time.perf_counter()
        ids, fids, paths, folders, nos, texts, hashes = [], [], [], [], [], [], []
        for i in range(start, start + m):
            fid = i // ROWS_PER_FILE
            folder = f"/data/folder{fid % FOLDERS:02d}"
            ids.append(f"{fid}:{i % ROWS_PER_FILE}")
            fids.append(fid)
            paths.append(f"{folder}/file{fid:07d}.txt")
            folders.append(folder)
            nos.append(i % ROWS_PER_FILE)
            texts.append(" ".join(rnd.choices(sents, k=rnd.randint(3, 6))))
            hashes.append(f"{i:032x}")
        rows = pa.table({
            "id": ids, "file_id": pa.array(fids, pa.int64()), "path": paths, "folder": folders,
            "kind": ["text"] * m, "chunk_no": pa.array(nos, pa.int32()), "page": pa.nulls(m, pa.int32()),
            "heading": [""] * m, "text": texts, "text_hash": hashes, "kw": [""] * m}, schema=CHUNK_SCHEMA)
        store.replace_files([], rows)
        t_text += time.perf_counter() - s
        s = time.perf_counter()
        store.add_vectors(hashes, _vectors(rng, centres, m))
        t_vec += time.perf_counter() - s
        if (start // BATCH) % 10 == 9:
            print(f"    {start + m:,} rows written", flush=True)
    t_write = time.perf_counter()
    store.maintain(final=True)
    t_maint = time.perf_counter()
    st = store.stats()
    disk_after_index = disk_bytes(str(uri))
    # What the store settles to once old versions expire (Quire keeps them 10 minutes for readers
    # and drops them at a later maintain); done here at once so the figure does not wait.
    import warnings
    from datetime import timedelta

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "removes every version except the latest": intended here
        for t in (store.chunks, store.vectors()):
            t.optimize(cleanup_older_than=timedelta(0))
    # What every later `quire index` run pays for upkeep with nothing new to fold in
    # (Indexer.run calls maintain(final=True) at the end of every run, even a no-change one).
    s = time.perf_counter()
    store.maintain(final=True)
    t_again = time.perf_counter() - s
    return {"chunks": st.chunks, "vectors": st.vectors, "write_s": t_write - t0, "write_chunks_s": t_text,
            "write_vectors_s": t_vec, "maintain_s": t_maint - t_write, "fragments": st.fragments,
            "fts_unindexed": st.fts_unindexed, "disk_bytes": disk_bytes(str(uri)),
            "disk_bytes_before_cleanup": disk_after_index, "maintain_again_s": t_again,
            "vector_index": any(i.index_type.lower().startswith("ivf") for i in store.vectors().list_indices())}


class _FakeEmbedder:
    """A query embedder with no model: a vector near one of the corpus's centres."""

    def __init__(self) -> None:
        import numpy as np

        from app.core.embed import EmbedderInfo

        self.info = EmbedderInfo("fastembed", "synthetic", DIM, 254, "")
        self._c = _centres()
        self._rng = np.random.default_rng(123)

    def embed(self, texts: list[str]) -> Any:
        return _vectors(self._rng, self._c, len(texts))


def measure(uri: Path, out: Path, n_queries: int, sweep: bool = False) -> None:
    """In a fresh process: open the store read-only, time queries per mode."""
    t0 = time.perf_counter()
    from app.core.search import Searcher
    from app.core.store import Store

    t_imp = time.perf_counter()
    store = Store(uri, "chunks_1", "vectors_synthetic", read_only=True)
    searcher = Searcher(store, _FakeEmbedder(), "hybrid")
    qs = sample_queries(n_queries + 5, seed=11)
    s = time.perf_counter()
    first = searcher.search(qs[0], 10, mode="hybrid")
    t_first = time.perf_counter() - s
    res: dict[str, Any] = {"import_s": t_imp - t0, "first_query_s": t_first, "first_hits": len(first.hits)}
    modes = [("keyword", None), ("vector", None), ("hybrid", None), ("hybrid+folder", "/data/folder07")]
    for name, folder in modes:
        mode = name.split("+")[0]
        for q in qs[:5]:
            searcher.search(q, 10, folder=folder, mode=mode)
        lat = []
        hits = 0
        for q in qs[5:]:
            s = time.perf_counter()
            r = searcher.search(q, 10, folder=folder, mode=mode)
            lat.append(time.perf_counter() - s)
            hits += len(r.hits)
        res[name] = {"p50_s": pct(lat, 50), "p95_s": pct(lat, 95), "mean_hits": hits / len(lat),
                     "latencies_s": lat}
    # Recall@10 of the app's vector search (as the Searcher calls it: 100 candidates, so IVF-PQ
    # refines 400) against an exact scan; 1.00 while the search is flat.
    vt = store.vectors()
    emb = _FakeEmbedder()
    recalls = []
    for _ in range(20):
        q = emb.embed(["q"])[0]
        got = {h for h, _ in store.vector_search(q, 100)[:10]}  # the Searcher asks for its depth (100)
        exact = (vt.search(q, vector_column_name="vector").distance_type("cosine").bypass_vector_index()
                 .select(["text_hash"]).limit(10).to_arrow().column("text_hash").to_pylist())
        recalls.append(len(got & set(exact)) / 10)
    res["vector_recall@10"] = sum(recalls) / len(recalls)
    if sweep and store._has_vector_index(vt):
        res["ivf_sweep"] = ivf_sweep(vt)
    out.write_text(json.dumps(res))


def ivf_sweep(vt: Any) -> list[dict[str, Any]]:
    """Vector-search latency and recall@10 (vs an exact scan) for other probe / refine settings
    than the app's (Store.vector_search: nprobes 24, refine_factor 4)."""
    emb = _FakeEmbedder()
    qs = [emb.embed(["q"])[0] for _ in range(30)]
    exact = [set(vt.search(q, vector_column_name="vector").distance_type("cosine").bypass_vector_index()
                 .select(["text_hash"]).limit(10).to_arrow().column("text_hash").to_pylist()) for q in qs]
    out = []
    for nprobes, refine in [(24, None), (24, 4), (24, 10), (24, 30), (50, 10), (50, 30), (100, 30), (100, 100)]:
        lat, rec = [], []
        for q, ex in zip(qs, exact, strict=True):
            t = time.perf_counter()
            qq = vt.search(q, vector_column_name="vector").distance_type("cosine").nprobes(nprobes)
            if refine:
                qq = qq.refine_factor(refine)
            got = qq.select(["text_hash", "_distance"]).limit(100).to_arrow().column("text_hash").to_pylist()
            lat.append(time.perf_counter() - t)
            rec.append(len(set(got[:10]) & ex) / 10)
        out.append({"nprobes": nprobes, "refine_factor": refine, "p50_s": pct(lat, 50), "p95_s": pct(lat, 95),
                    "recall@10": sum(rec) / len(rec)})
        print(f"    nprobes {nprobes:>3} refine {refine!s:>4}: p50 {secs(pct(lat, 50))}  recall@10 "
              f"{sum(rec) / len(rec):.2f}", flush=True)
    return out


def latency_part(work: Path, sizes: list[int], n_queries: int,
                 sweep: bool = False) -> tuple[list[dict[str, Any]], str]:
    results = []
    for n in sizes:
        uri = work / f"store-{n}"
        print(f"\n# {n:,} chunks: building ...", flush=True)
        b = build_store(uri, n)
        print(f"  built in {secs(b['write_s'])} + maintain {secs(b['maintain_s'])}; "
              f"{mb(b['disk_bytes'])} on disk; vector index: {b['vector_index']}", flush=True)
        out = work / f"measure-{n}.json"
        m = run_measured([PY, str(Path(__file__).resolve()), "--measure", str(uri), "--out", str(out),
                          "--queries", str(n_queries)] + (["--ivf-sweep"] if sweep else []))
        print(m["stdout"], end="", flush=True)
        r = json.loads(out.read_text())
        r["peak_rss"] = m["peak_rss_tree"]
        results.append({"chunks": n, "build": b, "search": r})
        print("  " + "  ".join(f"{k}: p50 {secs(r[k]['p50_s'])} p95 {secs(r[k]['p95_s'])}"
                               for k in ("keyword", "vector", "hybrid", "hybrid+folder"))
              + f"  vector recall@10 {r['vector_recall@10']:.2f}", flush=True)
        shutil.rmtree(uri, ignore_errors=True)
    rows = []
    for x in results:
        b, r = x["build"], x["search"]
        rows.append([f"{x['chunks']:,}", *(f"{secs(r[k]['p50_s'])} / {secs(r[k]['p95_s'])}"
                                           for k in ("keyword", "vector", "hybrid", "hybrid+folder")),
                     secs(r["first_query_s"]), mb(r["peak_rss"]),
                     f"{mb(b['disk_bytes'])} ({mb(b['disk_bytes_before_cleanup'])})",
                     f"{secs(b['write_s'])} + {secs(b['maintain_s'])}", secs(b["maintain_again_s"]),
                     "IVF-PQ" if b["vector_index"] else "flat", f"{r['vector_recall@10']:.2f}"])
    text = ("\n## Search latency, p50 / p95 (k=10, query embedding excluded)\n\n"
            + table(["chunks", "keyword", "vector", "hybrid", "hybrid + folder filter", "first query (fresh process)",
                     "reader peak RSS", "on disk (before old versions expire)", "write + maintain",
                     "maintain again", "vector index", "vector recall@10 vs exact"], rows))
    print(text, flush=True)
    return results, text


def unindexed_part(work: Path, n: int, n_queries: int) -> tuple[list[dict[str, Any]], str]:
    import pyarrow.compute as pc

    uri = work / f"store-unindexed-{n}"
    print(f"\n# {n:,} chunks, then rows left out of the full-text index ...", flush=True)
    build_store(uri, n)
    from app.core.store import Store

    store = Store(uri, "chunks_1", "vectors_synthetic")
    qs = sample_queries(n_queries, seed=11)
    batch = store.chunks.search().limit(2048).to_arrow()
    results, added = [], 0
    for target in (0, 2048, 8192, 20480):
        while added < target:
            ids = pc.binary_join_element_wise(batch.column("id"), f"u{added}", "")
            store.replace_files([], batch.set_column(0, "id", ids))
            added += batch.num_rows
        for q in qs[:3]:
            store.fts_search(q, 10)  # warm-up
        lat = []
        for q in qs:
            t = time.perf_counter()
            store.fts_search(q, 10)
            lat.append(time.perf_counter() - t)
        unindexed = store.stats().fts_unindexed
        results.append({"chunks": n + added, "unindexed": unindexed, "p50_s": pct(lat, 50), "p95_s": pct(lat, 95)})
        print(f"  {unindexed:,} rows unindexed: keyword p50 {secs(pct(lat, 50))} p95 {secs(pct(lat, 95))}", flush=True)
    shutil.rmtree(uri, ignore_errors=True)
    text = ("\n## Keyword search with rows not yet in the full-text index\n\n"
            + table(["chunks", "unindexed rows", "keyword p50", "keyword p95"],
                    [[f"{r['chunks']:,}", f"{r['unindexed']:,}", secs(r["p50_s"]), secs(r["p95_s"])]
                     for r in results]))
    print(text, flush=True)
    return results, text


def memory_part(work: Path, quick: bool) -> tuple[list[dict[str, Any]], str]:
    plans = [("none", 500, 8.0), ("minilm", 100, 0.001)]
    if quick:
        plans = [("none", 100, 8.0), ("minilm", 30, 0.001)]
    results = []
    rows = []
    for emb, n1, kb in plans:
        runs = []
        for mult in (1, 10):
            n = n1 * mult
            corpus = work / f"mem-{emb}-{n}"
            info = make_mixed_corpus(corpus, n, int(kb * 1024), seed=5, unique=(emb == "minilm"), real=False)
            home = work / f"mem-home-{emb}-{n}"
            print(f"\n# memory: quire index, {emb}, {info['files']:,} files, {info['bytes'] / 1e6:.1f} MB ...",
                  flush=True)
            r = quire_index(home, emb, str(corpus))
            rep = r["report"]
            runs.append({"embedder": emb, "files": info["files"], "bytes": info["bytes"],
                         "chunks": rep["chunks_written"], "embedded": rep["chunks_embedded"],
                         "wall_s": r["wall_s"], "peak_rss_tree": r["peak_rss_tree"],
                         "peak_rss_main": r["peak_rss_main"]})
            print(f"  {secs(r['wall_s'])}, {rep['chunks_written']:,} chunks, peak RSS {mb(r['peak_rss_tree'])} "
                  f"(main process {mb(r['peak_rss_main'])})", flush=True)
            shutil.rmtree(corpus, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
        results.extend(runs)
        a, b = runs
        rows.append([emb, f"{a['files']:,} / {b['files']:,}", f"{a['chunks']:,} / {b['chunks']:,}",
                     f"{secs(a['wall_s'])} / {secs(b['wall_s'])}",
                     f"{mb(a['peak_rss_tree'])} / {mb(b['peak_rss_tree'])}",
                     f"{b['peak_rss_tree'] / a['peak_rss_tree']:.2f}x",
                     f"{mb(a['peak_rss_main'])} / {mb(b['peak_rss_main'])}",
                     f"{b['peak_rss_main'] / a['peak_rss_main']:.2f}x"])
    text = ("\n## Peak memory of `quire index` at 1x and 10x corpus size\n\n"
            + table(["embedder", "files 1x / 10x", "chunks", "wall", "peak RSS, all processes", "10x / 1x",
                     "peak RSS, main process", "10x / 1x"], rows))
    print(text, flush=True)
    return results, text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--ivf-sweep", action="store_true",
                    help="where IVF-PQ is built, also time other nprobes / refine_factor settings (limit 100)")
    ap.add_argument("--unindexed", type=int, default=0, metavar="N",
                    help="also time keyword search on N chunks with 0 / 2,048 / 8,192 / 20,480 rows unindexed")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.measure:
        measure(Path(a.measure), Path(a.out), a.queries, a.ivf_sweep)
        return 0
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else \
        ([10_000, 50_000] if a.quick else [10_000, 100_000, 1_000_000])
    work = workdir("scale")
    result: dict[str, Any] = {"quick": a.quick, "ivf_sweep": a.ivf_sweep}
    texts = []
    try:
        if not a.no_latency:
            result["latency"], t = latency_part(work, sizes, a.queries, a.ivf_sweep)
            texts.append(t)
        if a.unindexed:
            result["unindexed"], t = unindexed_part(work, a.unindexed, min(a.queries, 40))
            texts.append(t)
        if not a.no_memory:
            result["memory"], t = memory_part(work, a.quick)
            texts.append(t)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    result["report"] = "\n".join(texts)
    name = "scale" + ("-quick" if a.quick else "")
    path = write_result(name, result)
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
