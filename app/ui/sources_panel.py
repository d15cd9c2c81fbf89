"""Sources (right): the passages of the selected answer with file, page, folder, score and a
snippet with the question's words highlighted. Double-click (or Enter) opens the file at the
page; "Show in folder" reveals it."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.scripts import spaceless, spaceless_runs

from . import theme

if TYPE_CHECKING:
    from app.core.answer import Source

SNIPPET_CHARS = 520
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "our", "should", "so", "that",
    "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "was", "we", "were", "what",
    "when", "where", "which", "who", "why", "will", "with", "would", "you", "your", "about", "into", "than",
})


def query_words(text: str) -> list[str]:
    runs = spaceless_runs(text)
    words = {w.lower() for w in re.findall(r"\w{3,}", _strip_runs(text, runs))} - STOPWORDS
    for run in runs:
        # Chinese and Japanese have no spaces to find words by: mark the question's character
        # pairs where the passage has them (most words there are two characters). Thai and the
        # other scripts before U+3040 spell words with letters, so only the whole run is marked.
        words.add(run)
        if run[0] >= "\u3040":
            words.update(run[i:i + 2] for i in range(len(run) - 1))
    return sorted(words, key=len, reverse=True)


def _strip_runs(text: str, runs: Sequence[str]) -> str:
    for run in runs:
        text = text.replace(run, " ")
    return text


def _words_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """Words and what follows them to the end of the word (notice -> notices); a spaceless
    run or pair just as it is (in those scripts the next letter is another word)."""
    alts = [re.escape(w) if spaceless(w) else r"\b" + re.escape(w) + r"\w*" for w in words]
    return re.compile("|".join(alts), re.I) if alts else None


def snippet_html(text: str, words: Sequence[str], mark_bg: str) -> str:
    """The passage cut to a readable length around the first match, matches highlighted."""
    flat = " ".join(text.split())
    pattern = _words_pattern(words)
    start = 0
    if pattern is not None:
        m = pattern.search(flat)
        if m and m.start() > SNIPPET_CHARS * 0.6:
            start = flat.rfind(" ", 0, max(0, m.start() - 80)) + 1
    cut = flat[start:start + SNIPPET_CHARS]
    if start + SNIPPET_CHARS < len(flat):
        cut = cut.rsplit(" ", 1)[0] + " …"
    if start:
        cut = "… " + cut
    if pattern is None:
        return html.escape(cut)
    out, last = [], 0
    for m in pattern.finditer(cut):
        out.append(html.escape(cut[last:m.start()]))
        out.append(f'<span style="background:{mark_bg}; font-weight:600;">{html.escape(m.group(0))}</span>')
        last = m.end()
    out.append(html.escape(cut[last:]))
    return "".join(out)


def fit_where(place: str, folder: str, width: int, advance: Callable[[str], int],
              elide: Callable[[str, Qt.TextElideMode, int], str]) -> str:
    """The card's "Page 2 · Heading > Sub · /folder" line in ``width`` pixels. The folder gives
    way first (the tooltip has the whole path), then the heading loses its start: its end is
    the most specific part (the section, a mail's attached file), so it is kept."""
    sep = " · "
    full = sep.join(x for x in (place, folder) if x)
    if advance(full) <= width:
        return full
    lead = place + sep if place else ""  # no stray " · " before a folder alone
    room = width - advance(lead)
    if folder and room >= advance("…/folder"):
        return lead + elide(folder, Qt.TextElideMode.ElideMiddle, room)
    page, _, heading = place.partition(sep) if place.startswith("Page ") else ("", "", place)
    if not heading:
        return elide(place, Qt.TextElideMode.ElideRight, width)
    head = page + sep if page else ""
    return head + elide(heading, Qt.TextElideMode.ElideLeft, max(0, width - advance(head)))


class SourceCard(QFrame):
    open_file = Signal(object)  # Source
    reveal = Signal(object)
    clicked = Signal(object)  # self

    def __init__(self, source: Source, words: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.source = source
        self.words = list(words)
        self.is_selected = False
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{source.path}\nDouble-click or press Enter to open")
        name = os.path.basename(source.path) or source.path
        self.setAccessibleName(f"Source {source.n}: {name}" + (f", page {source.page}" if source.page else ""))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        lay.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(6)
        self.num = QLabel(f"[{source.n}]")
        self.num.setFont(theme.scaled_font(self, 0.95, bold=True))
        top.addWidget(self.num)
        self._name = name
        self.title = QLabel(name)
        self.title.setToolTip(source.path)
        self.title.setFont(theme.scaled_font(self, 1.0, bold=True))
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.title, 1)
        self.score = QLabel(f"score {source.score:.3f}")
        self.score.setToolTip("Relevance score (higher is better; compare within one answer only)")
        self.score.setFont(theme.scaled_font(self, 0.82))
        top.addWidget(self.score)
        lay.addLayout(top)
        page = f"Page {source.page}" if source.page is not None else ""
        self._where_parts = (" · ".join(x for x in (page, source.heading) if x), os.path.dirname(source.path))
        where = " · ".join(x for x in self._where_parts if x)
        self.where = QLabel(where)
        self.where.setFont(theme.scaled_font(self, 0.82))
        self.where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.where)
        if source.also:  # the same passage in other files (copies): one card, the others named
            n = len(source.also)
            self.also = QLabel(f"Also in {n} other file{'s' if n != 1 else ''}: "
                               + ", ".join(os.path.basename(p) or p for p in source.also[:3])
                               + (" …" if n > 3 else ""))
            self.also.setFont(theme.scaled_font(self, 0.82))
            self.also.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self.also.setToolTip("The same passage is in:\n" + "\n".join(source.also[:20])
                                 + (f"\n… and {n - 20} more" if n > 20 else ""))
            lay.addWidget(self.also)
        self.snippet = QLabel()
        self.snippet.setWordWrap(True)
        self.snippet.setTextFormat(Qt.TextFormat.RichText)
        self.snippet.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.snippet)
        actions = QHBoxLayout()
        actions.addStretch(1)
        self.open_button = QToolButton()
        self.open_button.setText("Open")
        self.open_button.setAutoRaise(True)
        self.open_button.setToolTip("Open the file" + (f" at page {source.page}" if source.page else ""))
        self.open_button.clicked.connect(lambda: self.open_file.emit(self.source))
        self.reveal_button = QToolButton()
        self.reveal_button.setText("Show in folder")
        self.reveal_button.setAutoRaise(True)
        self.reveal_button.clicked.connect(lambda: self.reveal.emit(self.source))
        actions.addWidget(self.open_button)
        actions.addWidget(self.reveal_button)
        lay.addLayout(actions)
        self.restyle()

    def restyle(self) -> None:
        pal = theme.palette()
        acc = theme.accent(pal)
        edge = theme.css(acc) if self.is_selected else theme.css(theme.border(pal))
        width = 2 if self.is_selected else 1
        self.setStyleSheet(f"QFrame#card {{ background: {theme.css(theme.surface(0.0, pal))};"
                           f" border: {width}px solid {edge}; border-radius: 8px; }}"
                           f"QFrame#card:focus {{ border: 2px solid {theme.css(acc)}; }}")
        sec = theme.css(theme.secondary_text(pal))
        self.where.setStyleSheet(f"color: {sec};")
        if self.source.also:
            self.also.setStyleSheet(f"color: {sec};")
        self.score.setStyleSheet(f"color: {sec};")
        self.num.setStyleSheet(f"color: {theme.css(acc)};")
        mark = theme.css(theme.tint(theme.warn_color(pal), 0.35, pal))
        self.snippet.setText(snippet_html(self.source.text, self.words, mark))

    def set_selected(self, on: bool) -> None:
        self.is_selected = on
        self.restyle()

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        # A long file name is shortened in the middle, where it was cut at the end ("tenancy-ag").
        self.title.setText(self.title.fontMetrics().elidedText(self._name, Qt.TextElideMode.ElideMiddle,
                                                               max(40, self.title.width())))
        fm = self.where.fontMetrics()
        self.where.setText(fit_where(*self._where_parts, max(60, self.where.width()), fm.horizontalAdvance,
                                     fm.elidedText))

    def mousePressEvent(self, e: QMouseEvent) -> None:
        self.clicked.emit(self)
        super().mousePressEvent(e)

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:
        self.open_file.emit(self.source)

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.open_file.emit(self.source)
            return
        super().keyPressEvent(e)


class SourcesPanel(QWidget):
    open_file = Signal(object)  # Source
    reveal = Signal(object)  # Source

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards: list[SourceCard] = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.title = QLabel("Sources")
        self.title.setFont(theme.scaled_font(self, 1.1, bold=True))
        lay.addWidget(self.title)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.subtitle.setFont(theme.scaled_font(self, 0.86))
        lay.addWidget(self.subtitle)
        self.scroll = QScrollArea()
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no invisible Tab stop: its contents take focus
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.column.setContentsMargins(2, 4, 6, 4)
        self.column.setSpacing(8)
        self.column.addStretch(1)
        self.scroll.setWidget(inner)
        lay.addWidget(self.scroll, 1)
        self.show_sources((), "", "")

    def show_sources(self, sources: Sequence[Source], query: str, mode: str) -> None:
        for c in self.cards:
            c.setParent(None)
            c.deleteLater()
        self.cards = []
        words = query_words(query)
        for s in sources:
            card = SourceCard(s, words)
            card.open_file.connect(self.open_file.emit)
            card.reveal.connect(self.reveal.emit)
            card.clicked.connect(self._select_card)
            self.column.insertWidget(self.column.count() - 1, card)
            self.cards.append(card)
        if not sources:
            text = {"streaming": "The passages the answer cites appear here when it is done.",
                    "stopped": "The answer was stopped before it cited anything."}.get(
                mode, "Ask a question: the passages its answer cites appear here.")
        elif mode == "passages":
            text = "The best passages for the question (no written answer)."
        elif mode == "unanswered":
            text = ("The passages the model was given: it found the answer in none of them. Double-click one "
                    "to open the file.")
        elif mode == "uncited":
            text = ("The answer cites none of these passages, the ones its model was given: check it "
                    "against them. Double-click one to open the file.")
        else:
            text = "Passages the selected answer cites. Double-click one to open the file."
        self.subtitle.setText(text)
        self.subtitle.setStyleSheet(f"color: {theme.css(theme.secondary_text(theme.palette()))};")

    def select(self, n: int) -> None:
        card = next((c for c in self.cards if c.source.n == n), None)
        if card is not None:
            self._select_card(card)
            self.scroll.ensureWidgetVisible(card, 0, 12)
            card.setFocus(Qt.FocusReason.OtherFocusReason)

    def _select_card(self, card: SourceCard) -> None:
        for c in self.cards:
            c.set_selected(c is card)

    def restyle(self) -> None:
        self.subtitle.setStyleSheet(f"color: {theme.css(theme.secondary_text(theme.palette()))};")
        for c in self.cards:
            c.restyle()
