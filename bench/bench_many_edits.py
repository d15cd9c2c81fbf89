"""Many small edits in a row: the mean cost of a full `quire index` run that finds one file changed.

    .venv/bin/python bench/bench_many_edits.py                 # 5,000 files, 40 edits, backend none
    .venv/bin/python bench/bench_many_edits.py --edits 60 --files 2000

bench_incremental.py reports the median of three such runs; this one shows what a median hides:
each run adds a fragment to the table, and every so many runs the end of a run rewrites the
table (compaction), a cost that grows with the library. One process (the Library API), the
same corpus as bench_incremental.py; after the edits, the keyword search latency (p50 of 30),
which pays for the rows not yet in the keyword index and for the fragments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import make_mixed_corpus, scifact_docs, workdir

QUERIES = ("protein expression in cells", "cancer risk factors", "vitamin D deficiency", "immune response",
           "gene mutation")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--edits", type=int, default=40)
    a = ap.parse_args()
    work = workdir("many-edits")
    try:
        corpus = work / "corpus"
        make_mixed_corpus(corpus, a.files, 1, seed=3, unique=True, real=False)
        os.environ["QUIRE_HOME"] = str(work / "home")
        os.environ["QUIRE_EMBEDDING_BACKEND"] = "none"
        from app.core.config import Paths, load_settings
        from app.core.library import Library
        from app.core.store import FINAL_COMPACT_FRAGMENTS

        paths = Paths.default()
        lib = Library.open(paths, load_settings(paths), write=True)
        try:
            t = time.perf_counter()
            lib.index([str(corpus)])
            first = time.perf_counter() - t
            files = sorted(p for p in corpus.rglob("*") if p.is_file())
            docs = scifact_docs()
            runs = []
            for k in range(a.edits):
                with open(files[len(files) // 2 + 7 * k], "a", encoding="utf-8") as fh:
                    fh.write(f"\n\n{docs[-1 - k]['text']}\n")
                t = time.perf_counter()
                rep = lib.index(None)
                runs.append(time.perf_counter() - t)
                assert rep.files_changed == 1, rep.as_json()
            for q in QUERIES:
                lib.search(q, 10)
            searches = []
            for _ in range(6):
                for q in QUERIES:
                    t = time.perf_counter()
                    lib.search(q, 10)
                    searches.append(time.perf_counter() - t)
        finally:
            lib.close()
        ms = [1000 * r for r in runs]
        print(f"{a.files:,} files, first run {first:.2f} s; compaction bar {FINAL_COMPACT_FRAGMENTS} fragments")
        print(f"{a.edits} one-file runs: mean {statistics.mean(ms):.1f} ms ({100 * statistics.mean(runs) / first:.2f}% "
              f"of the first run), median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms, "
              f"over 200 ms: {sum(m > 200 for m in ms)}")
        print(f"keyword search after them: p50 {1000 * statistics.median(searches):.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
