"""Quire's splitter against llama-index's SentenceSplitter: same texts, same token counter.

    .venv/bin/python bench/bench_chunking.py                 # 1,500 generated files (~30 MB), one core
    .venv/bin/python bench/bench_chunking.py --files 300

Both split every parsed section of the corpus (the zero-embedder corpus of
bench_vs_llamaindex.py) into chunks of at most 240 MiniLM tokens with 40 of overlap, counting
with the same cached MiniLM counter (app.core.chunking.make_token_counter). Reports the time,
the number of chunks, how full they are, and how many break the budget. Parsing is timed
separately and is not part of either figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import MINILM, make_mixed_corpus, table, workdir, write_result

from app.core.chunking import make_token_counter
from app.core.parse import parse_file
from app.core.splitter import TextSplitter

SIZE, OVERLAP = 240, 40


def run(name: str, split: Any, sections: list[Any], count: Any) -> dict[str, Any]:
    t = time.perf_counter()
    chunks = [c for sec in sections for c in split(sec.text)]
    secs = time.perf_counter() - t
    sizes = [count(c) for c in chunks]
    return {"splitter": name, "seconds": secs, "chunks": len(chunks),
            "mean_tokens": statistics.fmean(sizes), "over_budget": sum(s > SIZE for s in sizes),
            "at_least_80pct_full": sum(s >= 0.8 * SIZE for s in sizes) / len(sizes)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=1500)
    ap.add_argument("--kb", type=float, default=17.5)
    a = ap.parse_args()
    work = workdir("chunking")
    info = make_mixed_corpus(work / "corpus", a.files, int(a.kb * 1024), seed=1, unique=False)
    t = time.perf_counter()
    sections = [s for p in sorted((work / "corpus").rglob("*")) if p.is_file() for s in parse_file(str(p))
                if s.text.strip()]
    parse_s = time.perf_counter() - t
    print(f"{info['files']:,} files, {info['bytes'] / 1e6:.1f} MB, {len(sections):,} sections "
          f"(parsed in {parse_s:.2f} s, not counted below)", flush=True)

    tok = str(MINILM / "tokenizer.json")
    from llama_index.core.node_parser import SentenceSplitter

    results = []
    # Each splitter gets a fresh counter, so both pay for warming its per-word cache.
    count = make_token_counter(tok)
    li = SentenceSplitter(chunk_size=SIZE, chunk_overlap=OVERLAP, tokenizer=lambda s: [0] * count(s),
                          include_metadata=False, include_prev_next_rel=False)
    results.append(run("llama-index SentenceSplitter", li.split_text, sections, make_token_counter(tok)))
    count = make_token_counter(tok)
    quire = TextSplitter(count.count, SIZE, OVERLAP, additive=count.additive)
    results.append(run("Quire TextSplitter", quire.split, sections, make_token_counter(tok)))

    base = results[0]["seconds"]
    rows = [[r["splitter"], f"{r['seconds']:.2f} s", f"{base / r['seconds']:.1f}x", f"{r['chunks']:,}",
             f"{r['mean_tokens']:.0f}", f"{100 * r['at_least_80pct_full']:.0f}%", r["over_budget"]] for r in results]
    report = table(["splitter", "time (one core)", "speed-up", "chunks", "mean tokens", ">= 80% full",
                    f"over {SIZE} tokens"], rows)
    print(report)
    path = write_result("chunking", {"corpus": info, "parse_seconds": parse_s, "results": results, "report": report})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
