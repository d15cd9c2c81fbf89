"""What a review of the window under Xvfb found broken: the conversation cut off in a narrow
window, citation chips that lost their number, the wrong name offered for a rename, a theme
switch that left the answer unreadable, and a question asked of an empty library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QInputDialog

from tests.gui.conftest import WAIT_MS, add_folder, ask


def test_a_question_to_an_empty_library_says_so_and_keeps_the_question(qtbot: Any, make_window: Any) -> None:
    # It answered "No passage in the library matches the question" and saved that as a conversation.
    w = make_window()
    qtbot.waitUntil(lambda: w.snap is not None, timeout=WAIT_MS)
    w.conversation.edit.setPlainText("How much notice must I give?")
    w.conversation._submit()
    assert not w.conversation.turns and w.ask_task is None
    assert w.conversation.banner.isVisible() and "library is empty" in w.conversation.banner.text.text()
    assert [b.text() for b in w.conversation.banner.action_buttons()] == ["Add a folder…"]
    assert w.conversation.edit.toPlainText() == "How much notice must I give?"


def test_narrow_window_keeps_the_conversation_and_chips_their_numbers(qtbot: Any, make_window: Any,
                                                                       tmp_path: Path, monkeypatch: Any) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    name = "Befund Dr. Müller (Kopie) final FINAL v2 - ein sehr langer Dateiname für den Test.md"
    (docs / name).write_text("# Befund\n\nThe cholesterol value was 190 mg/dl.\n", encoding="utf-8")
    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 1)
    w.resize(760, 560)
    turn = ask(qtbot, w, "What was the cholesterol value?")
    qtbot.wait(200)
    conv = w.conversation
    # Nothing of the conversation is pushed past its visible width.
    assert conv.inner.width() <= conv.scroll.viewport().width()
    assert turn.q.minimumWidth() <= conv.scroll.viewport().width()
    assert w.main_split.sizes()[1] >= max(w.main_split.sizes()[0], w.main_split.sizes()[2])
    chip = turn.chips.items[0]
    assert chip.width() <= turn.chips.width()
    # Shortened in the middle, the [1] kept (the name was clipped at both ends, the number lost).
    assert chip.text().startswith("[1]  Befund") and "…" in chip.text() and chip.text().endswith(".md")
    w.resize(1900, 1000)
    qtbot.waitUntil(lambda: chip.text() == f"[1]  {name}", timeout=WAIT_MS)  # room again: the whole name


def test_rename_from_the_menu_offers_the_name_of_the_conversation_clicked(qtbot: Any, make_window: Any,
                                                                         docs: Path, monkeypatch: Any) -> None:
    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 2)
    ask(qtbot, w, "Where is the garden hose?")
    w.new_chat()
    ask(qtbot, w, "How much notice must the tenant give?")
    qtbot.waitUntil(lambda: w.chats.list.count() == 2, timeout=WAIT_MS)
    other = next(w.chats.list.item(i) for i in range(2) if "garden" in w.chats.list.item(i).text())
    offered: list[str] = []

    def get_text(parent: Any, title: str, label: str, text: str = "", **_: Any) -> tuple[str, bool]:
        offered.append(text)
        return "", False

    monkeypatch.setattr(QInputDialog, "getText", get_text)
    w.chats.rename.emit(other.data(256))  # what the menu's "Rename…" emits for the item clicked
    assert offered == [other.text()]


def test_switching_to_a_dark_theme_restyles_what_is_on_screen(qtbot: Any, make_window: Any, docs: Path,
                                                               monkeypatch: Any) -> None:
    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 2)
    turn = ask(qtbot, w, "Where is the garden hose?")
    app = QApplication.instance()
    light = app.palette()
    pal = QPalette(light)
    for role, color in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.Base, "#2b2c2f"),
                        (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.WindowText, "#e8eaed"),
                        (QPalette.ColorRole.ButtonText, "#e8eaed"), (QPalette.ColorRole.Button, "#303134"),
                        (QPalette.ColorRole.Link, "#8ab4f8")):
        pal.setColor(role, QColor(color))
    try:
        app.setPalette(pal)
        qtbot.waitUntil(lambda: not w._restyling, timeout=WAIT_MS)
        qtbot.wait(50)
        chip = turn.chips.items[0]
        # The chips' and cards' colours come from the new palette (they kept the old light ones).
        assert "#ffffff" not in chip.styleSheet().lower()
        card = w.sources.cards[0]
        assert QColor(card.styleSheet().split("background: ")[1].split(";")[0]).lightness() < 128
    finally:
        app.setPalette(light)


def test_adding_a_folder_inside_or_around_a_library_folder_says_what_happened(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: Any) -> None:
    # "Added 1 item" while no row appeared (the folder was inside one already), or while two
    # rows silently became one.
    top = tmp_path / "Documents"
    (top / "Household" / "Receipts").mkdir(parents=True)
    (top / "Household" / "Receipts" / "r.txt").write_text("A receipt for the boiler.", encoding="utf-8")
    (top / "Club").mkdir()
    (top / "Club" / "n.txt").write_text("Club news.", encoding="utf-8")
    w = make_window()
    add_folder(qtbot, w, top / "Household", monkeypatch, 1)
    add_folder(qtbot, w, top / "Club", monkeypatch, 1)
    messages: list[str] = []
    monkeypatch.setattr(w.statusBar(), "showMessage", lambda text, *a: messages.append(text))
    w.add_paths([str(top / "Household" / "Receipts")])
    qtbot.waitUntil(lambda: any("already in the library" in m for m in messages), timeout=WAIT_MS)
    assert any("Receipts is already in the library (inside" in m for m in messages)
    w.add_paths([str(top)])
    qtbot.waitUntil(lambda: any("now part of Documents" in m for m in messages), timeout=WAIT_MS)
    assert any(m.startswith("Added 1 item") and "Household, Club are now part of Documents" in m
               or "Club, Household are now part of Documents" in m for m in messages)


def test_tab_goes_through_the_window_in_reading_order(qtbot: Any, make_window: Any) -> None:
    # The library's actions came before the library, the question first, and two scroll areas
    # took invisible stops.
    from PySide6.QtWidgets import QScrollArea

    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    w.library.add_button.setFocus()
    seen = [QApplication.focusWidget()]
    for _ in range(10):
        w.focusNextChild()
        seen.append(QApplication.focusWidget())
    order = [x for x in (w.library.add_button, w.library.list, w.chats.new_button, w.conversation.new_button,
                         w.conversation.edit, w.conversation.send) if x.isVisible()]  # (an empty list is hidden)
    assert [x for x in seen if x in order][:len(order)] == order
    assert not any(isinstance(x, QScrollArea) for x in seen[:seen.index(w.conversation.send)])


def test_the_problems_dialog_shows_a_chosen_file_whole(qtbot: Any) -> None:
    from app.ui.problems import ProblemsDialog
    from app.workers.views import Problem

    d = ProblemsDialog()
    qtbot.addWidget(d)
    why = "damaged or truncated EPUB: File is not a zip file (the download may have stopped halfway)"
    d.set_problems([Problem("/home/ana/Documents/Books/Unfinished/a-very-long-book-title.epub", why,
                            "/home/ana/Documents")])
    d.table.selectRow(0)
    assert d.details.isVisibleTo(d) and why in d.details.text() and "a-very-long-book-title.epub" in d.details.text()


def test_an_answer_that_says_the_files_do_not_hold_it_is_not_told_to_be_checked(
        qtbot: Any, make_window: Any, docs: Path, monkeypatch: Any, fake_ollama: Any) -> None:
    # It got a note repeating it and a Sources pane saying "check it against them".
    from tests.fake_ollama import NO_PASSAGE_REPLY

    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 2)
    fake_ollama.responder = lambda msgs: NO_PASSAGE_REPLY
    turn = ask(qtbot, w, "What colour is the garden shed door?")
    assert turn.mode == "answer" and NO_PASSAGE_REPLY in turn.answer.text() and not turn.note_label.text()
    w._turn_selected(turn)
    assert w.sources.cards and "found the answer in none of them" in w.sources.subtitle.text()


def test_conversations_say_when_they_were_last_used(qtbot: Any, make_window: Any, docs: Path,
                                                     monkeypatch: Any) -> None:
    # Titles that start alike were told apart by nothing: the time and count are under each.
    from app.ui.chats_panel import WHEN_ROLE

    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 2)
    ask(qtbot, w, "Where is the garden hose?")
    qtbot.waitUntil(lambda: w.chats.list.count() == 1, timeout=WAIT_MS)
    item = w.chats.list.item(0)
    assert item.text() == "Where is the garden hose?"  # the name alone: rename and the title use it
    assert item.data(WHEN_ROLE).endswith("· 1 question")
    assert w.chats.list.visualItemRect(item).height() > w.chats.list.fontMetrics().height() * 1.6


def test_citation_chips_follow_a_right_to_left_answer(qtbot: Any, make_window: Any, docs: Path,
                                                      monkeypatch: Any, fake_ollama: Any) -> None:
    # An Arabic answer was right-aligned and its chips left-aligned under it.
    w = make_window()
    add_folder(qtbot, w, docs, monkeypatch, 2)
    fake_ollama.responder = lambda msgs: "يوجد خرطوم الحديقة في السقيفة الزرقاء [1]."
    turn = ask(qtbot, w, "Where is the garden hose?")
    qtbot.wait(100)
    chip = turn.chips.items[0]
    assert turn.chips.rtl and chip.geometry().right() == turn.chips.width() - 1
    fake_ollama.responder = lambda msgs: "The hose is in the blue shed [1]."
    turn = ask(qtbot, w, "Where is the garden hose kept?")
    qtbot.wait(100)
    assert not turn.chips.rtl and turn.chips.items[0].geometry().left() == 0
