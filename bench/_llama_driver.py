"""The LlamaIndex default recipe, run in its own process so its time and memory are its own.

    python bench/_llama_driver.py index  --docs DIR --persist DIR --embed zero|minilm [--chunk 240,40] --out F
    python bench/_llama_driver.py reopen --persist DIR --embed zero|minilm --queries F --k 10 --out F

index:  SimpleDirectoryReader(DIR, recursive=True).load_data(); VectorStoreIndex.from_documents(docs,
        embed_model=...); index.storage_context.persist(DIR)  -- each phase timed.
reopen: load_index_from_storage(StorageContext.from_defaults(persist_dir=DIR), embed_model=...), then
        .as_retriever(similarity_top_k=k).retrieve(q) for each query.
Nothing uses llama-index's global Settings except where the default recipe does (the default
SentenceSplitter, 1024 tokens with 200 overlap); ``--chunk`` replaces it for a matched comparison.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

T_START = time.perf_counter()
SHARED = Path(os.environ.get("QUIRE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MINILM = SHARED / "models" / "all-minilm-l6-v2-onnx"


def make_embed_model(kind: str) -> Any:
    if kind == "minilm":
        from llama_index.embeddings.fastembed import FastEmbedEmbedding

        return FastEmbedEmbedding(model_name="sentence-transformers/all-MiniLM-L6-v2",
                                  specific_model_path=str(MINILM))
    if kind == "zero":
        from llama_index.core.base.embeddings.base import BaseEmbedding

        dim = 384

        class ZeroEmbedding(BaseEmbedding):
            """Costs nothing: every text gets the same unit vector (as Quire's zero embedder)."""

            @classmethod
            def class_name(cls) -> str:
                return "ZeroEmbedding"

            def _vec(self) -> list[float]:
                v = [0.0] * dim
                v[0] = 1.0
                return v

            def _get_text_embedding(self, text: str) -> list[float]:
                return self._vec()

            def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
                return [self._vec() for _ in texts]

            def _get_query_embedding(self, query: str) -> list[float]:
                return self._vec()

            async def _aget_query_embedding(self, query: str) -> list[float]:
                return self._vec()

        return ZeroEmbedding(model_name="zero")
    raise SystemExit(f"unknown embed {kind}")


def cmd_index(a: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex

    t_imp = time.perf_counter()
    embed = make_embed_model(a.embed)
    t_model = time.perf_counter()
    docs = SimpleDirectoryReader(a.docs, recursive=True).load_data()
    t_load = time.perf_counter()
    kwargs: dict[str, Any] = {}
    if a.chunk:
        from llama_index.core.node_parser import SentenceSplitter

        size, overlap = (int(x) for x in a.chunk.split(","))
        kwargs["transformations"] = [SentenceSplitter(chunk_size=size, chunk_overlap=overlap)]
    index = VectorStoreIndex.from_documents(docs, embed_model=embed, **kwargs)
    t_build = time.perf_counter()
    index.storage_context.persist(a.persist)
    t_persist = time.perf_counter()
    return {"python_start_to_main_s": t0 - T_START, "import_s": t_imp - t0, "model_load_s": t_model - t_imp,
            "load_data_s": t_load - t_model, "from_documents_s": t_build - t_load,
            "persist_s": t_persist - t_build, "documents": len(docs), "nodes": len(index.docstore.docs)}


def cmd_reopen(a: Any) -> dict[str, Any]:
    queries = json.loads(Path(a.queries).read_text())
    t0 = time.perf_counter()
    from llama_index.core import StorageContext, load_index_from_storage

    t_imp = time.perf_counter()
    embed = make_embed_model(a.embed)
    t_model = time.perf_counter()
    index = load_index_from_storage(StorageContext.from_defaults(persist_dir=a.persist), embed_model=embed)
    t_load = time.perf_counter()
    retriever = index.as_retriever(similarity_top_k=a.k)
    first = retriever.retrieve(queries[0])
    t_first = time.perf_counter()
    lat = []
    for q in queries[1:]:
        s = time.perf_counter()
        retriever.retrieve(q)
        lat.append(time.perf_counter() - s)
    return {"python_start_to_main_s": t0 - T_START, "import_s": t_imp - t0, "model_load_s": t_model - t_imp,
            "load_index_s": t_load - t_model, "first_query_s": t_first - t_load,
            "open_and_first_query_s": t_first - t_model, "first_hits": len(first),
            "query_latencies_s": lat}


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["index", "reopen"])
    ap.add_argument("--docs")
    ap.add_argument("--persist", required=True)
    ap.add_argument("--embed", required=True)
    ap.add_argument("--chunk", default="")
    ap.add_argument("--queries")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    res = cmd_index(a) if a.cmd == "index" else cmd_reopen(a)
    Path(a.out).write_text(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
