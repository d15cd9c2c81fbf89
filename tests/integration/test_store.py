"""Store upkeep: the vector index is built once the table is large enough, then kept and used."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from app.core import store as store_mod
from app.core.store import CHUNK_SCHEMA, Store


def test_vector_index_is_built_once_and_used(tmp_path, monkeypatch):
    monkeypatch.setattr(store_mod, "VECTOR_INDEX_MIN_ROWS", 2000)
    st = Store(tmp_path / "index", "chunks_1", "vectors_test")
    n, dim = 3000, 16
    rows = [{"id": f"{i}:0", "file_id": i, "path": f"/d/{i}.txt", "folder": "/d", "kind": "text", "chunk_no": 0,
             "page": None, "heading": "", "text": f"passage number {i}", "text_hash": f"{i:032x}", "kw": ""}
            for i in range(n)]
    st.replace_files([], pa.Table.from_pylist(rows, schema=CHUNK_SCHEMA))
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    st.add_vectors([f"{i:032x}" for i in range(n)], vecs)
    st.maintain(final=True)
    vt = st.vectors()
    assert Store._has_vector_index(vt)

    def no_rebuild(*a, **k):
        raise AssertionError("the vector index must be kept, not built again")

    monkeypatch.setattr(vt, "create_index", no_rebuild)
    st.maintain(final=True)  # a second upkeep keeps (and only updates) the index
    assert Store._has_vector_index(vt)
    top = st.vector_search(vecs[42], 5)
    assert top[0][0] == f"{42:032x}" and top[0][1] > 0.9


def test_lean_scans_set_defaults_and_keep_what_the_user_set(monkeypatch):
    from app.core.store import use_lean_scans

    monkeypatch.delenv("LANCE_DEFAULT_BATCH_SIZE", raising=False)
    monkeypatch.setenv("LANCE_DEFAULT_FRAGMENT_READAHEAD", "4")
    use_lean_scans()
    assert os.environ["LANCE_DEFAULT_BATCH_SIZE"] == "1024"
    assert os.environ["LANCE_DEFAULT_FRAGMENT_READAHEAD"] == "4"
