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
    for piece in (TEXT, TEXT[:500], "  spaced\n\nout\ttext  ", ""):
        assert count(piece) == len(tok.encode(piece, add_special_tokens=False).ids)
    # Except a word the tokenizer reads as one unknown token: 300 letters are one [UNK], and
    # are counted as 30 (MAX_CHARS_PER_TOKEN) so the chunk they are in stays a passage.
    assert len(tok.encode("a" * 300, add_special_tokens=False).ids) == 1 and count("a" * 300) == 30


THAI = "สัญญาเช่าต้องแจ้งล่วงหน้าหกสิบวัน "  # "the lease needs sixty days' notice", one phrase: MiniLM reads one [UNK]


def test_passages_stay_passages_in_any_script(minilm_path):
    # Chinese without punctuation was one "word" to the count without a tokenizer (one
    # 19,200-character chunk for a file), and Thai or a hex dump were a few [UNK] tokens to
    # MiniLM's (8,000-character chunks): a passage nobody can read as a citation.
    zh = "合同终止需要提前三十天书面通知押金为两个月的租金" * 800
    hexdump = "0123456789abcdef" * 400
    for tf in ("", str(minilm_path / "tokenizer.json")):
        chunker = Chunker(ChunkSpec(240, 40, tf))
        # (A 33-letter phrase counts 3 tokens: at most ~11 characters a token.)
        for text, most in ((zh, 240), (THAI * 800, 240 * 12), (hexdump, 240 * 10)):
            sizes = [len(c.text) for c in chunker.chunk([Section(text, None)])]
            assert max(sizes) <= most and sum(sizes) >= len(text.replace(" ", "")), (tf, text[:10], max(sizes))


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
