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


def test_a_cards_place_line_keeps_the_page_and_the_end_of_the_heading(qtbot):
    # "Page 2 · Your tenancy agr…re-mailshot/Mail": elided in the middle, the line lost the
    # attached file's name, the one thing that says where page 2 is.
    from app.core.answer import Source
    from app.ui.sources_panel import SourceCard

    heading = "Your tenancy agreement for flat 3B > tenancy-agreement.pdf"
    src = Source(1, "/home/ana/Documents/Mail/Archive/2026/tenancy.eml", 2, "The rent is 1,150 euros.", 2.5,
                 heading)
    card = SourceCard(src, ["rent"])
    qtbot.addWidget(card)
    card.resize(330, 200)
    card.show()
    qtbot.waitUntil(lambda: card.where.text() != "")
    fm = card.where.fontMetrics()
    for width in (330, 260):
        card.resize(width, 200)
        qtbot.waitUntil(lambda w=width: card.where.width() <= w)
        line = card.where.text()
        assert line.startswith("Page 2 · ") and line.endswith("tenancy-agreement.pdf"), line
        assert fm.horizontalAdvance(line) <= max(60, card.where.width())
    card.resize(1200, 200)  # room for everything: the folder follows
    qtbot.waitUntil(lambda: card.where.text().endswith("/home/ana/Documents/Mail/Archive/2026"))
    assert card.where.text().startswith("Page 2 · Your tenancy agreement for flat 3B > tenancy-agreement.pdf · ")


def test_a_card_names_the_other_files_holding_the_same_passage(qtbot):
    from app.core.answer import Source
    from app.ui.sources_panel import SourceCard

    also = ("/home/ana/Documents/boiler.txt", "/home/ana/Backup/boiler.txt")
    card = SourceCard(Source(1, "/home/ana/Downloads/boiler.txt", None, "Service it every autumn.", 1.0,
                             also=also), ["autumn"])
    qtbot.addWidget(card)
    assert card.also.text() == "Also in 2 other files: boiler.txt, boiler.txt"
    assert card.also.toolTip().splitlines()[1:] == list(also)
    plain = SourceCard(Source(2, "/home/ana/notes.txt", None, "Unique text.", 0.5), ["text"])
    qtbot.addWidget(plain)
    assert not hasattr(plain, "also")
