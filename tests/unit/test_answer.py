"""The prompt, context fitting and citation mapping of app.core.answer (no server needed)."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.answer import (
    NO_ANSWER,
    SYSTEM_PROMPT,
    Answer,
    Source,
    _fallback_query,
    _turns,
    answer_reserve,
    build_messages,
    cited_numbers,
    estimate_tokens,
    fit_passages,
    passage_block,
    says_no_answer,
    strip_citations,
)
from app.core.types import Hit


def hit(i: int, words: int = 40, page: int | None = 1) -> Hit:
    text = f"Passage {i} begins here. " + " ".join(f"w{i}x{j}" for j in range(words)) + " [9] end."
    return Hit(path=f"/docs/file{i}.pdf", page=page, score=1.0 / i, text=text, heading=f"Part {i}")


def test_estimate_is_conservative() -> None:
    text = "The tenant must give sixty days' written notice."  # ~11 real tokens
    assert estimate_tokens(text) >= 11
    assert estimate_tokens("x" * 35) == 10


def test_reserve_scales_with_the_window() -> None:
    assert answer_reserve(2048) == 512
    assert answer_reserve(8192) == 1024
    assert answer_reserve(300) == 128


def test_passage_block_numbers_and_labels() -> None:
    s = Source(3, "/docs/lease.pdf", 7, "First line.\n\n\nSecond line.", 0.5, "Notice")
    assert passage_block(s) == "[3] lease.pdf, page 7 (Notice)\nFirst line.\nSecond line."
    assert passage_block(Source(1, "/a/notes.md", None, "x", 0.1)) == "[1] notes.md\nx"


def test_prompt_numbers_passages_and_asks_for_citations() -> None:
    sources = [Source.from_hit(i, hit(i)) for i in (1, 2)]
    system, user = build_messages("How much notice?", sources)
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "cite" in SYSTEM_PROMPT and "only" in SYSTEM_PROMPT and NO_ANSWER in SYSTEM_PROMPT
    content = user["content"]
    assert content.index("[1] file1.pdf, page 1") < content.index("[2] file2.pdf, page 1")
    assert content.rstrip().endswith("cite them by number.")
    assert "Question: How much notice?" in content


def test_fit_keeps_whole_passages_within_the_window() -> None:
    hits = [hit(i, words=120) for i in range(1, 21)]
    window, reserve = 2048, answer_reserve(2048)
    fitted, left_out = fit_passages(hits, "q", window, reserve)
    assert 0 < len(fitted) < 20 and left_out == 20 - len(fitted)
    assert [s.n for s in fitted] == list(range(1, len(fitted) + 1))
    # every passage is whole: its text is the hit's text, its trailing words included
    by_path = {h.path: h for h in hits}
    assert all(s.text == by_path[s.path].text and s.text.endswith("[9] end.") for s in fitted)
    prompt = "".join(m["content"] for m in build_messages("q", fitted))
    assert estimate_tokens(prompt) + reserve <= window


def test_fit_skips_a_big_passage_for_smaller_ones_after_it() -> None:
    hits = [hit(1, words=10), hit(2, words=3000), hit(3, words=10)]
    fitted, left_out = fit_passages(hits, "q", 2048, 512)
    assert [s.path for s in fitted] == ["/docs/file1.pdf", "/docs/file3.pdf"]
    assert [s.n for s in fitted] == [1, 2] and left_out == 1


def test_fit_cuts_the_best_passage_only_when_nothing_fits() -> None:
    fitted, _ = fit_passages([hit(1, words=5000)], "q", 2048, 512)
    assert len(fitted) == 1 and fitted[0].text.endswith(" …")
    assert len(fitted[0].text) < len(hit(1, words=5000).text)


ZH = "合同终止需要提前三十天书面通知。押金为两个月的租金。"  # SmolLM2 reads 1.77 tokens a character


def test_the_estimate_is_conservative_in_other_scripts_too() -> None:
    # Counted like English (3.5 characters a token), Chinese came out at a sixth of its size.
    assert estimate_tokens(ZH * 10) >= 1.75 * len(ZH * 10)
    assert estimate_tokens("Договор аренды требует письменного уведомления.") >= 0.75 * 47
    assert estimate_tokens("Kündigungsfrist beträgt") > estimate_tokens("Kundigungsfrist betragt")


def test_chinese_passages_fit_the_window_and_a_cut_keeps_most_of_the_room() -> None:
    hits = [Hit(path=f"/docs/{i}.txt", page=None, score=1 / i, text=ZH * 8, heading="") for i in range(1, 21)]
    fitted, left_out = fit_passages(hits, "押金是多少？", 2048, 512)
    assert 0 < len(fitted) < 20 and left_out == 20 - len(fitted)
    prompt = "".join(m["content"] for m in build_messages("押金是多少？", fitted))
    assert 1.77 * sum(1 for ch in prompt if not ch.isascii()) + len(prompt) / 3.5 <= 2048 - 512
    # One passage too big for the window is cut to the room there is, not back to its first
    # space (here right after the title), which left a few characters.
    big = Hit(path="/docs/big.txt", page=None, score=1.0, text="Title " + ZH * 400, heading="")
    fitted, _ = fit_passages([big], "q", 2048, 512)
    assert fitted[0].text.endswith(" …") and len(fitted[0].text) > 400


def test_everything_fits_in_a_big_window() -> None:
    hits = [hit(i) for i in range(1, 9)]
    fitted, left_out = fit_passages(hits, "q", 8192, 1024)
    assert len(fitted) == 8 and left_out == 0


def test_citations() -> None:
    assert cited_numbers("A [2]. B [1][2]. C [3, 4]. D [9].", 4) == [2, 1, 3, 4]
    assert cited_numbers("Range [1-3] and [ 2 ; 4 ].", 5) == [1, 2, 3, 4]
    assert cited_numbers("No citations here, just [brackets] and [0].", 5) == []
    assert strip_citations("Sixty days [1], by post [2, 3].") == "Sixty days, by post."
    # Forms small models write instead; they were left in the answer with no source.
    assert cited_numbers("Sixty days [Passage 2], by post 【1】 [sources 3, 4].", 4) == [2, 1, 3, 4]
    assert strip_citations("Sixty days [Passage 2], by post 【1】.") == "Sixty days, by post."


def test_the_no_answer_sentence_counts_only_as_the_answer_s_opening() -> None:
    assert says_no_answer(NO_ANSWER) and says_no_answer(f"Sorry. {NO_ANSWER} They mention rent only.")
    # A claim made up first, the sentence after it: still an answer that cites nothing.
    assert not says_no_answer(f"The capital of Mongolia is Beijing, a large city in the north. {NO_ANSWER}")


def test_the_window_links_every_number_a_citation_names() -> None:
    from app.ui.conversation import linkify  # the window's answer text; no widget is made

    assert linkify("Both [1-3] and 【4】.") == ("Both [\\[1\\]](cite:1)[\\[2\\]](cite:2)[\\[3\\]](cite:3) and "
                                              "[\\[4\\]](cite:4).")


def test_history_in_any_shape() -> None:
    history = [("user", "How much notice?"), {"role": "assistant", "content": "Sixty days [1]."},
               SimpleNamespace(role="user", text="  "), {"role": "system", "text": "x"},
               SimpleNamespace(role="assistant", text="")]
    assert _turns(history) == [("user", "How much notice?"), ("assistant", "Sixty days [1].")]
    assert _fallback_query("and the deposit?", _turns(history)) == "How much notice? and the deposit?"
    assert _fallback_query("q", []) == "q"


def test_answer_json_shape() -> None:
    s = Source(1, "/docs/lease.pdf", 7, "Sixty days.", 0.123456789, "Notice")
    a = Answer("Sixty days [1].", (s,), "llama3.2", 1.23456, "answer", retrieved=(s,), question="q")
    doc = a.as_json()
    assert doc["answer"] == "Sixty days [1]." and doc["model"] == "llama3.2" and doc["seconds"] == 1.235
    assert doc["sources"] == [{"n": 1, "path": "/docs/lease.pdf", "page": 7, "text": "Sixty days.",
                               "score": 0.123457, "heading": "Notice"}]
    assert Answer("", (s,), "m", 0.1, "passages").as_json()["answer"] is None
