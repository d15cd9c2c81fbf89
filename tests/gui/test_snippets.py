"""The source cards' snippets: the question's words marked in the passage, in any script."""

from __future__ import annotations

import re

from app.ui.sources_panel import query_words, snippet_html


def marked(html_text: str) -> list[str]:
    return re.findall(r"<span [^>]*>(.*?)</span>", html_text)


def test_words_and_their_endings_are_marked_but_not_common_words():
    words = query_words("What is the termination notice period?")
    assert words[0] == "termination" and set(words) == {"termination", "notice", "period"}
    out = snippet_html("The lease requires sixty days written notices before termination.", words, "#ff0")
    assert marked(out) == ["notices", "termination"]


def test_chinese_and_japanese_questions_mark_their_words_in_the_passage():
    # The whole question was one "word" (合同终止需要什么通知): nothing in a passage was marked.
    words = query_words("合同终止需要什么通知？")
    out = snippet_html("合同终止需要提前三十天书面通知。押金为两个月的租金。", words, "#ff0")
    assert {"合同", "终止", "需要", "通知"} <= set(marked(out)) and "押金" not in marked(out)
    # ...and a long passage is cut around the first of them, not at its start.
    passage = "x " * 400 + "契約の解除には三十日前の書面による通知が必要です。"
    out = snippet_html(passage, query_words("書面通知"), "#ff0")
    assert out.startswith("… ") and marked(out) == ["書面", "通知"]


def test_thai_is_marked_by_the_whole_word_not_letter_pairs():
    words = query_words("เงินประกัน เท่าไร")
    assert words == ["เงินประกัน", "เท่าไร"]
    out = snippet_html("สัญญาเช่าต้องแจ้งล่วงหน้าหกสิบวัน เงินประกันเท่ากับค่าเช่าสองเดือน", words, "#ff0")
    assert marked(out) == ["เงินประกัน"]
