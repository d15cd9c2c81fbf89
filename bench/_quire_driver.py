"""Run Quire in a subprocess with a benchmark embedder injected, or time searches in-process.

    python bench/_quire_driver.py cli index PATH --json      # `quire ...` with QUIRE_BENCH_EMBEDDER
    python bench/_quire_driver.py reopen --queries F --k 10 --out F.json

QUIRE_BENCH_EMBEDDER (set by bench/_common.quire_env):
  zero  an embedder that costs nothing: every text gets the same unit vector (384 dims). It
        exposes the pipeline's own cost; the vectors mean nothing.
  m2v   the model2vec static model shared/models/m2v-minilm-256 (256 dims, ~1,600 chunks/s).
Neither is a Quire backend: ``app.core.embed.load_embedder`` is replaced in this process only.
The settings still say fastembed + MiniLM's model_path, so chunks are counted in MiniLM tokens.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


class ZeroEmbedder:
    def __init__(self, dim: int = 384) -> None:
        from app.core.embed import EmbedderInfo

        self.info = EmbedderInfo("fastembed", "zero", dim, 254, "")
        self._unit = np.zeros((1, dim), dtype=np.float32)
        self._unit[0, 0] = 1.0
        self.batch_size = 32

    def embed(self, texts):
        return np.repeat(self._unit, len(texts), axis=0)


class M2VEmbedder:
    def __init__(self, path: str) -> None:
        from model2vec import StaticModel

        from app.core.embed import EmbedderInfo

        self._model = StaticModel.from_pretrained(path)
        dim = int(self._model.dim)
        self.info = EmbedderInfo("fastembed", "m2v-minilm-256", dim, 254, "")
        self.batch_size = 256

    def embed(self, texts):
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        a = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        n = np.linalg.norm(a, axis=1, keepdims=True)
        n[n == 0] = 1
        return a / n


def make_embedder(kind: str):
    if kind == "zero":
        return ZeroEmbedder()
    if kind == "m2v":
        shared = Path(os.environ.get("QUIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
        return M2VEmbedder(str(shared / "models" / "m2v-minilm-256"))
    raise SystemExit(f"unknown QUIRE_BENCH_EMBEDDER {kind!r}")


def patch_embedder() -> None:
    kind = os.environ.get("QUIRE_BENCH_EMBEDDER", "")
    if not kind:
        return
    import app.core.embed as embed_mod
    import app.core.library as library_mod

    def load_embedder(settings, paths, allow_download=True):
        if settings.embedding.backend == "none":
            return None
        return make_embedder(kind)

    embed_mod.load_embedder = load_embedder
    library_mod.load_embedder = load_embedder


def cmd_cli(argv: list[str]) -> int:
    patch_embedder()
    from app.cli import main

    return main(argv)


def cmd_reopen(argv: list[str]) -> int:
    """A fresh process: open the library, answer a first query, then time more queries."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="")
    a = ap.parse_args(argv)
    queries = json.loads(Path(a.queries).read_text())
    t_imp0 = time.perf_counter()
    patch_embedder()
    from app.core.store import load_lancedb

    load_lancedb()  # imported lazily by Store; counted with the imports, not the open

    from app.core.config import Paths, load_settings
    from app.core.library import Library

    t_imp1 = time.perf_counter()
    paths = Paths.default()
    settings = load_settings(paths)
    t0 = time.perf_counter()
    lib = Library.open(paths, settings)
    t_open = time.perf_counter()
    mode = a.mode or None

    def search(q: str):
        # The library call the CLI and the window make, unless a mode is forced.
        return lib.search(q, a.k) if mode is None else lib.searcher().search(q, a.k, mode=mode)

    first = search(queries[0])
    t_first = time.perf_counter()
    lat = []
    for q in queries[1:]:
        s = time.perf_counter()
        res = search(q)
        lat.append(time.perf_counter() - s)
        assert res.hits is not None
    lib.close()
    Path(a.out).write_text(json.dumps({
        "python_start_to_main_s": t_imp0 - T_START,
        "import_s": t_imp1 - t_imp0,
        "open_s": t_open - t0,
        "first_query_s": t_first - t_open,
        "open_and_first_query_s": t_first - t0,
        "mode": first.mode,
        "first_hits": len(first.hits),
        "query_latencies_s": lat,
    }))
    return 0


if __name__ == "__main__":
    cmd, rest = sys.argv[1], sys.argv[2:]
    if cmd == "cli":
        raise SystemExit(cmd_cli(rest))
    if cmd == "reopen":
        raise SystemExit(cmd_reopen(rest))
    raise SystemExit(f"unknown command {cmd}")
