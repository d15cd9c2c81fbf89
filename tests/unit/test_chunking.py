"""Chunking counts in the embedding model's own tokens and never exceeds the chunk size."""

from __future__ import annotations

from app.core.chunking import Chunker, ChunkSpec, make_token_counter
from app.core.parse import Section

TEXT = ("The tenant may end the tenancy by giving two months' notice in writing. " * 30
        + "Ünïcödé café naïve — “quoted”; e-mail a.b@example.org; x=y+z/2! 日本語のテキスト。" * 10)


def test_fast_counter_matches_the_tokenizer_exactly(minilm_path):
    from tokenizers import Tokenizer

    tf = str(minilm_path / "tokenizer.json")
    tok = Tokenizer.from_file(tf)
    tok.no_padding()
    tok.no_truncation()
    count = make_token_counter(tf)
    for piece in (TEXT, TEXT[:500], "  spaced\n\nout\ttext  ", "", "a" * 300):
        assert count(piece) == len(tok.encode(piece, add_special_tokens=False).ids)


def test_chunks_respect_size_pages_and_headings(minilm_path):
    tf = str(minilm_path / "tokenizer.json")
    count = make_token_counter(tf)
    chunks = Chunker(ChunkSpec(64, 8, tf)).chunk([Section(TEXT, 3, "Lease > Ending"), Section("Short.", 4)])
    assert len(chunks) > 5
    assert all(count(c.text) <= 64 for c in chunks)
    assert {c.page for c in chunks} == {3, 4}  # a chunk never spans two pages
    assert chunks[0].heading == "Lease > Ending" and chunks[-1].text == "Short."
    assert [c.chunk_no for c in chunks] == list(range(len(chunks)))
    assert chunks[0].embed_text.startswith("Lease > Ending\n")
