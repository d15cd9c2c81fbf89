"""Keyword search while a first `quire index` with MiniLM is still adding vectors.

    .venv/bin/python bench/bench_search_while_indexing.py             # 1,500 files, ~38k chunks
    .venv/bin/python bench/bench_search_while_indexing.py --files 300  # smaller

`quire index` is started on a fresh home with the real MiniLM model; every few seconds another
process opens the library read-only (as a second `quire search` or the window would) and times
keyword searches. Rows not yet in the BM25 index are scanned flat by every keyword search, so
the figures show how long a search takes while the run goes on, and, as the baseline measured in
the same run, once the index is stopped and complete for keywords. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    PY,
    QUIRE,
    REPO,
    make_mixed_corpus,
    median,
    quire_env,
    sample_queries,
    secs,
    table,
    workdir,
    write_result,
)

PROBE = r"""
import json, sys, time
from app.core.config import Paths, load_settings
from app.core.library import Library
queries = json.loads(sys.argv[1])
p = Paths.default()
lib = Library.open(p, load_settings(p), write=False)
if lib.meta() is None:
    print(json.dumps(None)); sys.exit()
searcher, st = lib.searcher(), lib.store()
lat = []
for q in queries:
    t = time.perf_counter()
    searcher.search(q, 10, mode="keyword")
    lat.append(time.perf_counter() - t)
s = st.stats()  # (not keyword_backlog: the probe also runs against older code, for comparison)
print(json.dumps({"lat": lat, "rows": s.chunks, "flat": s.fts_unindexed, "vectors": s.vectors}))
"""


def probe(env: dict[str, str], queries: list[str]) -> dict[str, Any] | None:
    out = subprocess.run([PY, "-c", PROBE, json.dumps(queries)], env=env, cwd=str(REPO),
                         capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout) if out.returncode == 0 and out.stdout.strip() else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1500)
    ap.add_argument("--kb", type=float, default=17.5, help="size of each generated file")
    ap.add_argument("--seconds", type=float, default=150, help="how long to watch the run")
    ap.add_argument("--every", type=float, default=10, help="seconds between probes")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    a = ap.parse_args()
    work = workdir("search-while-indexing")
    corpus, home = work / "corpus", work / "home"
    info = make_mixed_corpus(corpus, a.files, int(a.kb * 1024), seed=1, unique=False)
    queries = sample_queries(6)
    env = {**os.environ, **quire_env(home, "minilm"), "PYTHONPATH": str(REPO)}
    print(f"# {info['files']:,} files, {info['bytes'] / 1e6:.1f} MB; quire index with MiniLM; "
          f"keyword searches from another process every {a.every:g} s", flush=True)
    run = subprocess.Popen([QUIRE, "index", str(corpus)], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.monotonic()
    samples: list[dict[str, Any]] = []
    try:
        while time.monotonic() - t0 < a.seconds and run.poll() is None:
            time.sleep(a.every)
            got = probe(env, queries)
            if got is not None:
                got["at"] = time.monotonic() - t0
                samples.append(got)
                print(f"  {got['at']:6.1f} s: {got['rows']:,} rows, {got['flat']:,} scanned flat, "
                      f"{got['vectors']:,} vectors; search p50 {secs(median(got['lat']))}", flush=True)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)  # as Ctrl-C: what was written is kept
        run.wait(300)
    after = probe(env, queries)
    rows = [[f"{s['at']:.0f} s", f"{s['rows']:,}", f"{s['flat']:,}", f"{s['vectors']:,}",
             secs(median(s["lat"])), secs(max(s["lat"]))] for s in samples]
    if after is not None:
        rows.append(["stopped", f"{after['rows']:,}", f"{after['flat']:,}", f"{after['vectors']:,}",
                     secs(median(after["lat"])), secs(max(after["lat"]))])
    print()
    print(table(["since start", "rows", "scanned flat", "vectors", "keyword search p50", "max"], rows))
    if after is not None and samples:
        worst = max(median(s["lat"]) for s in samples)
        print(f"\nworst p50 during the run / after it: {worst / max(median(after['lat']), 1e-9):.1f}x")
    write_result("search_while_indexing", {"corpus": info, "samples": samples, "after": after})
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
