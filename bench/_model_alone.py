"""The model alone: embed exactly the chunk texts a Quire index holds, and nothing else.

    python bench/_model_alone.py --home QUIRE_HOME --out F.json [--batch 32]

Reads the chunks table named in the home's manifest, takes each distinct embedded text
(heading path + "\\n" + text, as Quire embeds it; one per text hash, as Quire embeds each
distinct text once), and times fastembed's MiniLM over them in batches of ``--batch``.
Model load and reading the table are timed apart from the embedding itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

SHARED = Path(os.environ.get("QUIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MINILM = SHARED / "models" / "all-minilm-l6-v2-onnx"


def chunk_texts(home: Path) -> list[str]:
    import lancedb

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from app.core.chunking import embed_text

    conn = sqlite3.connect(str(home / "manifest.sqlite3"))
    try:
        rows = conn.execute("SELECT * FROM meta").fetchall()
    finally:
        conn.close()
    meta = None
    for r in rows:
        if r[0] == "index":
            meta = json.loads(r[1])
    if meta is None:
        raise SystemExit("no index meta in the manifest")
    tbl = lancedb.connect(str(home / "index")).open_table(meta["chunks_table"])
    data = tbl.to_arrow().select(["text_hash", "heading", "text", "file_id", "chunk_no"])
    seen: dict[str, str] = {}
    order = sorted(range(data.num_rows), key=lambda i: (data["file_id"][i].as_py(), data["chunk_no"][i].as_py()))
    hashes = data["text_hash"].to_pylist()
    heads = data["heading"].to_pylist()
    texts = data["text"].to_pylist()
    for i in order:
        seen.setdefault(hashes[i], embed_text(heads[i], texts[i]))  # exactly what Quire embeds
    return list(seen.values())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    t0 = time.perf_counter()
    texts = chunk_texts(Path(a.home))
    t_read = time.perf_counter()
    from fastembed import TextEmbedding

    model = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=str(MINILM),
                          local_files_only=True)
    t_load = time.perf_counter()
    n = 0
    for i in range(0, len(texts), a.batch):
        for _ in model.embed(texts[i:i + a.batch], batch_size=a.batch):
            n += 1
    t_embed = time.perf_counter()
    Path(a.out).write_text(json.dumps({"texts": len(texts), "embedded": n, "read_s": t_read - t0,
                                       "model_load_s": t_load - t_read, "embed_s": t_embed - t_load,
                                       "chunks_per_s": n / max(t_embed - t_load, 1e-9)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
