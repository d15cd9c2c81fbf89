"""The Ollama embedding backend, over real HTTP to the fake server: index, search, and Ollama down."""

from __future__ import annotations

from app.core.config import Settings
from tests.fake_ollama import fake_ollama  # noqa: F401
from tests.integration.conftest import write


def test_index_and_search_with_ollama_embeddings(tmp_path, open_lib, fake_ollama):  # noqa: F811
    d = tmp_path / "docs"
    write(d / "lease.txt", "The lease requires sixty days written notice before termination.")
    write(d / "garden.txt", "Tomatoes need sun, water and patience.")
    s = Settings().with_values({"embedding.backend": "ollama", "ollama.url": fake_ollama.url})
    lib = open_lib(s)
    r = lib.index([str(d)])
    assert r.chunks_embedded == 2 and r.files_added == 2
    assert fake_ollama.bodies("/api/embed")  # the vectors came over HTTP
    res = lib.search("termination notice", k=2)
    assert res.mode == "hybrid" and res.hits[0].path.endswith("lease.txt")
    assert lib.status()["embedding"] == {"backend": "ollama", "model": "nomic-embed-text", "dim": 16}


def test_ollama_down_still_indexes_for_keyword_search(tmp_path, open_lib, fake_ollama):  # noqa: F811
    d = tmp_path / "docs"
    write(d / "lease.txt", "The lease requires sixty days written notice before termination.")
    url = fake_ollama.url
    fake_ollama.stop()
    lib = open_lib(Settings().with_values({"embedding.backend": "ollama", "ollama.url": url}))
    r = lib.index([str(d)])
    assert r.files_added == 1 and r.chunks_embedded == 0 and r.embed_pending == 1
    assert "Ollama" in r.note
    res = lib.search("termination", k=1)
    assert res.mode == "keyword" and res.hits[0].path.endswith("lease.txt")
