"""The splitter: budgets hold, nothing is lost, boundaries are the strongest available."""

from __future__ import annotations

import re

import pytest

from app.core.splitter import TextSplitter


def words(s: str) -> int:
    return len(s.split())


PARAS = [" ".join(f"Sentence {p}.{i} has exactly seven words." for i in range(6)) for p in range(8)]
TEXT = "\n\n".join(PARAS)


def test_every_chunk_fits_and_the_text_is_all_there_in_order():
    sp = TextSplitter(words, 40, 8)
    chunks = sp.split(TEXT)
    assert all(words(c) <= 40 for c in chunks)
    assert all(c in TEXT for c in chunks)  # exact slices of the text
    # Without overlap the chunks put back together are the text (whitespace aside).
    plain = TextSplitter(words, 40, 0).split(TEXT)
    assert " ".join(" ".join(plain).split()) == " ".join(TEXT.split())
    starts = [TEXT.index(c) for c in chunks]
    assert starts == sorted(starts)


def test_chunks_break_at_sentences_and_overlap_by_whole_sentences():
    one_paragraph = " ".join(PARAS)  # 48 sentences of 6 words, no paragraph break
    chunks = TextSplitter(words, 40, 8).split(one_paragraph)
    assert len(chunks) > 5 and all(c.endswith(".") for c in chunks)
    for a, b in zip(chunks, chunks[1:], strict=False):
        first_sentence = re.match(r".*?\.(?=\s|$)", b).group(0)  # type: ignore[union-attr]
        assert a.endswith(first_sentence)  # the previous chunk's last sentence (6 <= 8 tokens)


def test_paragraphs_that_fit_are_kept_whole():
    short = "\n\n".join(["One two three."] * 3 + ["Four five six seven."])
    assert TextSplitter(words, 100, 10).split(short) == [short]
    two = TextSplitter(words, 7, 0).split("a b c.\n\nd e f g.\n\nh i.")
    assert two == ["a b c.\n\nd e f g.", "h i."]  # greedy: paragraphs join while they fit


def test_a_long_unbroken_string_is_cut_by_characters_within_budget():
    def chars(s: str) -> int:  # a "tokenizer" that counts 4 characters per token
        return sum((len(w) + 3) // 4 for w in s.split())

    blob = "x" * 5000
    chunks = TextSplitter(chars, 100, 20).split("Intro words here. " + blob + " The end.")
    assert all(chars(c) <= 100 for c in chunks)
    assert "".join(c for c in chunks if set(c) == {"x"}) == blob


def test_cjk_sentences_split_without_spaces():
    text = "これは最初の文です。" * 30
    chunks = TextSplitter(len, 50, 0, additive=False).split(text)
    assert all(len(c) <= 50 for c in chunks) and all(c.endswith("。") for c in chunks)
    assert "".join(chunks) == text


def test_a_heading_budget_smaller_than_the_size_is_respected():
    sp = TextSplitter(words, 40, 8)
    assert all(words(c) <= 25 for c in sp.split(TEXT, budget=25))


@pytest.mark.parametrize("size, overlap", [(0, 0), (10, 10), (10, -1)])
def test_bad_sizes_are_refused(size, overlap):
    with pytest.raises(ValueError):
        TextSplitter(words, size, overlap)


def test_sentence_pattern_splits_exactly_like_the_plain_alternation() -> None:
    # The pattern is written for speed (one leading character class); it must cut where the
    # readable form does, on text made of every character either branch looks at.
    import random

    from app.core.splitter import _LEVELS

    plain = re.compile(r"([.!?\u2026][\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]\s*)")
    rng = random.Random(7)
    alphabet = list("ab .!?\u2026\"'\u201d\u2019)]\n\t\u3002\uff01\uff1f\u3001x")
    for _ in range(20_000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert _LEVELS[1].split(s) == plain.split(s), repr(s)
