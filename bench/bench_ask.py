"""Quire's own cost of an answer: time to first token and total time against the fake Ollama.

    .venv/bin/python bench/bench_ask.py                          # 10k and 100k chunks, 1/4/8 concurrent
    .venv/bin/python bench/bench_ask.py --chunks 10000 --asks 50 --concurrency 1,4
    .venv/bin/python bench/bench_ask.py --token-delay 0.02       # a model writing ~50 pieces/s
    .venv/bin/python bench/bench_ask.py --retriever numpy        # brute-force numpy stand-in

The model is tests/fake_ollama.py on 127.0.0.1 (answers at once unless --token-delay is
given), so the figures are Quire's overhead: retrieval, context length lookup, prompt
building, HTTP streaming, citation mapping. Retrieval is the real hybrid search
(app.core.search.Searcher: BM25 + vectors, fused) over a real LanceDB store of the given
size, built like bench_scale.py builds it (SciFact sentences, clustered random 384-d
vectors, IVF-PQ from 100k); the query embedding is a zero-cost stand-in, so MiniLM's
~10-20 ms per query is not in the figures. Each level runs twice: on a quiet index, and
while a writer thread keeps replacing files in the same table (500-row batches, as the
indexer writes), which is what the window does while it indexes. Each ask is
app.core.answer.answer() end to end; "first token" is the time from the call to the first
on_token. Concurrent asks run on threads sharing one OllamaClient, as the window does.
Results are printed and written to bench/out/bench_ask.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.core.answer import answer  # noqa: E402
from app.core.config import OllamaSettings, Settings  # noqa: E402
from app.core.ollama import OllamaClient  # noqa: E402
from app.core.types import Hit  # noqa: E402
from tests.fake_ollama import FakeOllama  # noqa: E402

OUT = REPO / "bench" / "out"
WORDS = ["lease", "notice", "tenant", "deposit", "rent", "landlord", "repair", "term", "renewal", "payment",
         "clause", "party", "agreement", "property", "inspection", "utilities", "insurance", "damage"]


class VectorRetriever:
    """Brute-force cosine top-k over ``n`` random unit vectors; a stand-in for the index's search."""

    def __init__(self, n: int, dim: int = 384, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        v = rng.standard_normal((n, dim), dtype=np.float32)
        self.vectors = v / np.linalg.norm(v, axis=1, keepdims=True)
        self.dim = dim

    def text(self, i: int) -> str:
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(60)]
        return f"Passage {i} says the {words[0]} is {i % 90 + 10} days. " + " ".join(words) + "."

    def __call__(self, query: str, k: int) -> Sequence[Hit]:
        q = np.random.default_rng(zlib.crc32(query.encode())).standard_normal(self.dim, dtype=np.float32)
        scores = self.vectors @ (q / np.linalg.norm(q))
        top = np.argpartition(-scores, k)[:k]
        top = top[np.argsort(-scores[top])]
        return [Hit(f"/bench/doc{i // 50}.pdf", i % 50 + 1, float(scores[i]), self.text(int(i))) for i in top]


class IndexRetriever:
    """The real search over a synthetic LanceDB store (built once per size, cached in bench/out)."""

    def __init__(self, n: int) -> None:
        sys.path.insert(0, str(REPO / "bench"))
        from bench_scale import _FakeEmbedder, build_store

        from app.core.search import Searcher
        from app.core.store import Store

        uri = OUT / f"ask-store-{n}"
        marker = uri / ".built"
        if not marker.exists():
            print(f"building a {n:,}-chunk store in {uri} ...", flush=True)
            build_store(uri, n)
            marker.write_text("ok")
        self.uri = uri
        self.searcher = Searcher(Store(uri, "chunks_1", "vectors_synthetic", read_only=True), _FakeEmbedder())

    def __call__(self, query: str, k: int) -> Sequence[Hit]:
        return self.searcher.search(query, k).hits


class Writer:
    """Keeps writing into the store while asks run: replace 5 files (500 rows) at a time."""

    def __init__(self, uri: Path) -> None:
        self.uri = uri
        self.stop = threading.Event()
        self.batches = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import pyarrow as pa

        from app.core.store import CHUNK_SCHEMA, Store

        store = Store(self.uri, "chunks_1", "vectors_synthetic")
        fid = 10_000_000
        while not self.stop.is_set():
            ids = list(range(fid, fid + 5))
            rows = [{"id": f"{f}:{i}", "file_id": f, "path": f"/data/new/file{f}.txt", "folder": "/data/new",
                     "kind": "text", "chunk_no": i, "page": None, "heading": "",
                     "text": f"fresh passage {f} {i} about notice periods and deposits",
                     "text_hash": f"{f:016x}{i:016x}", "kw": ""}
                    for f in ids for i in range(100)]
            store.replace_files(ids, pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA))
            store.delete_files(ids)  # keep the table's size steady
            self.batches += 1
            fid += 5

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)


def one_ask(question: str, retrieve: Callable[[str, int], Sequence[Hit]], client: OllamaClient,
            settings: Settings) -> dict[str, float]:
    t0 = time.perf_counter()
    first: list[float] = []

    def on_token(piece: str) -> None:
        if not first:
            first.append(time.perf_counter() - t0)

    result = answer(question, retrieve, client, settings, on_token=on_token)
    total = time.perf_counter() - t0
    assert result.mode == "answer" and result.sources, result.note
    return {"first_token": first[0] if first else total, "total": total}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))]


def run_level(retrieve: Callable[[str, int], Sequence[Hit]], client: OllamaClient, settings: Settings,
              threads: int, asks: int) -> dict[str, Any]:
    samples: list[dict[str, float]] = []
    lock = threading.Lock()
    per_thread = max(1, asks // threads)
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            s = one_ask(f"How many days of notice, case {t}-{i}?", retrieve, client, settings)
            with lock:
                samples.append(s)

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    wall = time.perf_counter() - t0
    ft = [s["first_token"] * 1000 for s in samples]
    tot = [s["total"] * 1000 for s in samples]
    return {"threads": threads, "asks": len(samples), "asks_per_s": len(samples) / wall,
            "first_token_ms": {"p50": statistics.median(ft), "p95": pct(ft, 95)},
            "total_ms": {"p50": statistics.median(tot), "p95": pct(tot, 95)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", default="10000,100000", help="index sizes to simulate, comma-separated")
    ap.add_argument("--concurrency", default="1,4,8", help="threads asking at once, comma-separated")
    ap.add_argument("--asks", type=int, default=40, help="asks per level (split across the threads)")
    ap.add_argument("--k", type=int, default=8, help="passages per ask")
    ap.add_argument("--token-delay", type=float, default=0.0, help="seconds the fake model waits per piece")
    ap.add_argument("--retriever", choices=("index", "numpy"), default="index",
                    help="the real hybrid search over LanceDB (default) or a numpy brute-force stand-in")
    args = ap.parse_args()

    results: list[dict[str, Any]] = []
    with FakeOllama() as fake:
        fake.delay = args.token_delay
        settings = replace(Settings(), ollama=OllamaSettings(url=fake.url, timeout_s=30))
        settings = replace(settings, search=replace(settings.search, top_k=args.k))
        client = OllamaClient(settings.ollama)
        header = (f"{'chunks':>8} {'writing':>7} {'threads':>7} {'asks/s':>7} {'first token p50/p95 ms':>24} "
                  f"{'total p50/p95 ms':>18}")
        for n in (int(x) for x in args.chunks.split(",")):
            retrieve: Callable[[str, int], Sequence[Hit]] = \
                IndexRetriever(n) if args.retriever == "index" else VectorRetriever(n)
            print(header)
            one_ask("warm up", retrieve, client, settings)
            for writing in (False, True) if args.retriever == "index" else (False,):
                for threads in (int(x) for x in args.concurrency.split(",")):
                    if writing:
                        with Writer(retrieve.uri) as w:  # type: ignore[attr-defined]
                            r = run_level(retrieve, client, settings, threads, args.asks)
                        r["writer_batches"] = w.batches
                    else:
                        r = run_level(retrieve, client, settings, threads, args.asks)
                    r = {"chunks": n, "retriever": args.retriever, "while_writing": writing, **r}
                    results.append(r)
                    ft, tot = r["first_token_ms"], r["total_ms"]
                    print(f"{n:>8} {'yes' if writing else 'no':>7} {threads:>7} {r['asks_per_s']:>7.1f} "
                          f"{ft['p50']:>14.1f} / {ft['p95']:<7.1f} {tot['p50']:>9.1f} / {tot['p95']:<7.1f}",
                          flush=True)
        client.close()
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"benchmark": "ask", "token_delay_s": args.token_delay, "k": args.k, "results": results}
    (OUT / "bench_ask.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    print(f"written to {OUT / 'bench_ask.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
