"""The conversation (centre): questions and streamed Markdown answers with citation chips,
Stop, Copy, Regenerate; the welcome state when the library is empty."""

from __future__ import annotations

import html
import os
import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.answer import CITATION, UNCITED_NOTE, citation_numbers, says_no_answer

from . import theme
from .banner import Banner

if TYPE_CHECKING:
    from app.core.answer import Answer, Source

THINKING_AFTER_MS = 500
RENDER_EVERY_MS = 60  # streamed tokens are drawn at most ~16 times a second
PASSAGES_SHOWN = 4  # in the answer area when there is no written answer; all are in the Sources pane
BUBBLE_MAX = 520
ANSWER_MAX = 900
_LONG_WORD = re.compile(r"\S{40,}")


def right_to_left(text: str) -> bool:
    """Whether ``text`` reads right to left: its first letter of a strong direction decides,
    as the label showing it does."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def _breakable(text: str) -> str:
    """A word too long for any line (a URL, a path, a key) given places to wrap: a label
    cannot break inside a word, and the rest of it went past the bubble's edge."""
    return _LONG_WORD.sub(lambda m: "\u200b".join(m.group()[i:i + 20] for i in range(0, len(m.group()), 20)),
                          text)

def linkify(text: str) -> str:
    """Markdown with each [n] citation turned into a cite:n link (drawn as a chip-like link)."""

    def repl(m: re.Match[str]) -> str:
        return "".join(f"[\\[{n}\\]](cite:{n})" for n in citation_numbers(m.group(1)))

    return CITATION.sub(repl, text)


def source_label(s: Source) -> str:
    name = os.path.basename(s.path) or s.path
    return f"{name} · p. {s.page}" if s.page is not None else name


def plain_answer(text: str, sources: Sequence[Source]) -> str:
    lines = [text.strip()]
    if sources:
        lines.append("")
        lines += [f"[{s.n}] {s.path}" + (f", page {s.page}" if s.page is not None else "") for s in sources]
    return "\n".join(lines)


class QuestionEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line; grows with its text up to a few lines."""

    submit = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Ask a question about your files…")
        self.setTabChangesFocus(True)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setAccessibleName("Question")
        self.document().contentsChanged.connect(self._fit)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._fit()

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
                e.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier)):
            self.submit.emit()
            return
        super().keyPressEvent(e)

    def _fit(self) -> None:
        lines = max(1, min(6, int(self.document().size().height())))
        h = self.fontMetrics().lineSpacing() * lines + 2 * int(self.document().documentMargin()) + 6
        self.setFixedHeight(max(h, self.fontMetrics().lineSpacing() * 2 + 14))


class Chip(QPushButton):
    """A citation: [n] file · p. 3. Click shows the passage in the sources pane. Narrower than
    its text, the file name is shortened in the middle; the [n] always shows."""

    def __init__(self, source: Source, parent: QWidget | None = None) -> None:
        self.prefix = f"[{source.n}]  "
        self.label = source_label(source)
        super().__init__(self.prefix + self.label, parent)
        self.source = source
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(source.path + (f", page {source.page}" if source.page is not None else ""))
        self.setAccessibleName(f"Source {source.n}: {self.label}")
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self._full = QSize()
        self.restyle()

    def sizeHint(self) -> QSize:
        return self._full if self._full.isValid() else super().sizeHint()

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._fit(self.width())

    def _fit(self, width: int) -> None:
        spare = self._full.width() - self.fontMetrics().horizontalAdvance(self.prefix + self.label)
        room = width - spare - self.fontMetrics().horizontalAdvance(self.prefix)
        short = self.label if width >= self._full.width() else self.fontMetrics().elidedText(
            self.label, Qt.TextElideMode.ElideMiddle, max(room, 0))
        if self.text() != self.prefix + short:
            self.setText(self.prefix + short)

    def restyle(self) -> None:
        pal = theme.palette()
        acc = theme.accent(pal)
        self.setStyleSheet(
            f"QPushButton {{ background: {theme.css(theme.tint(acc, 0.10, pal))}; border: 1px solid "
            f"{theme.css(theme.tint(acc, 0.35, pal))}; border-radius: 10px; padding: 2px 10px; }}"
            f"QPushButton:hover, QPushButton:focus {{ background: {theme.css(theme.tint(acc, 0.22, pal))};"
            f" border-color: {theme.css(acc)}; }}")
        # The whole text's size, whatever is shown now: the row gives it back when there is room.
        shown = self.text()
        self.setText(self.prefix + self.label)
        self._full = QSize()
        self._full = super().sizeHint()
        if shown != self.text():
            self._fit(self.width())


class FlowRow(QWidget):
    """Chips laid out left to right, wrapping onto new lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: list[QWidget] = []
        self.rtl = False  # laid out from the right edge
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def add(self, w: QWidget) -> None:
        w.setParent(self)
        w.show()
        self.items.append(w)
        self.updateGeometry()
        self._layout(self.width())

    def clear(self) -> None:
        for w in self.items:
            w.deleteLater()
        self.items = []
        self.updateGeometry()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._layout(width, move=False)

    def sizeHint(self) -> QSize:
        return QSize(200, self._layout(max(self.width(), 200), move=False))

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._layout(self.width())

    def _layout(self, width: int, move: bool = True) -> int:
        x = y = line = 0
        gap = 6
        for w in self.items:
            hint = w.sizeHint()
            if x and x + hint.width() > width:
                x, y = 0, y + line + gap
                line = 0
            if move:
                shown = min(hint.width(), width)
                w.setGeometry(width - x - shown if self.rtl else x, y, shown, hint.height())
            x += hint.width() + gap
            line = max(line, hint.height())
        return y + line if self.items else 0


class Turn(QFrame):
    """One question and its answer."""

    selected = Signal(object)  # self
    cite = Signal(object, int)  # self, n
    copy = Signal(object)
    regenerate = Signal(object)

    def __init__(self, question: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("turn")
        self.question = question
        self.text = ""
        self.sources: tuple[Source, ...] = ()
        # An answer that cites nothing: the passages the model was given, for the Sources pane,
        # so its reader can check it against them.
        self.given: tuple[Source, ...] = ()
        self.mode = "streaming"  # then "answer" | "passages" | "stopped" | "failed"
        self.note = ""
        self.action = ""
        self.query = question
        self.is_selected = False
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 10)
        lay.setSpacing(6)

        qrow = QHBoxLayout()
        qrow.addStretch(1)
        self.q = QLabel(html.escape(_breakable(question)).replace("\n", "<br>"))
        self.q.setObjectName("question")
        self.q.setWordWrap(True)
        self.q.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.q.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.q.setMaximumWidth(BUBBLE_MAX)
        # A word-wrapped label asks for little width; give short questions one line, long ones the most.
        longest = max((self.q.fontMetrics().horizontalAdvance(line) for line in question.splitlines() or [""]),
                      default=0)
        self._q_width = min(longest + 40, BUBBLE_MAX)  # + the bubble's padding and frame: one line
        self.q.setMinimumWidth(self._q_width)
        qrow.addWidget(self.q)
        lay.addLayout(qrow)

        self.body = QFrame()
        self.body.setObjectName("answer")
        self.body.setMaximumWidth(ANSWER_MAX)  # lines past ~100 characters are hard to read
        body = QVBoxLayout(self.body)
        body.setContentsMargins(14, 10, 14, 10)
        body.setSpacing(8)
        self.label = QLabel()  # a heading shown above passages ("Passages")
        self.label.setFont(theme.scaled_font(self, 0.9, bold=True))
        self.label.hide()
        body.addWidget(self.label)
        self.answer = QLabel()
        self.answer.setTextFormat(Qt.TextFormat.MarkdownText)
        self.answer.setWordWrap(True)
        self.answer.setOpenExternalLinks(False)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                            | Qt.TextInteractionFlag.LinksAccessibleByMouse
                                            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.answer.linkActivated.connect(self._link)
        self.answer.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.answer.setAccessibleName("Answer")
        body.addWidget(self.answer)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        body.addWidget(self.status)
        self.chips = FlowRow()
        self.chips.hide()
        body.addWidget(self.chips)
        foot = QHBoxLayout()
        foot.setSpacing(4)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setFont(theme.scaled_font(self, 0.86))
        self.note_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        foot.addWidget(self.note_label, 1)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the answer and its sources")
        self.copy_button.setAutoRaise(True)
        self.copy_button.clicked.connect(lambda: self.copy.emit(self))
        self.regen_button = QToolButton()
        self.regen_button.setText("Regenerate")
        self.regen_button.setToolTip("Answer this question again")
        self.regen_button.setAutoRaise(True)
        self.regen_button.clicked.connect(lambda: self.regenerate.emit(self))
        foot.addWidget(self.copy_button)
        foot.addWidget(self.regen_button)
        body.addLayout(foot)
        lay.addWidget(self.body)
        self._foot_buttons(False)

        self._pending = ""
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self._render)
        self._thinking = QTimer(self)
        self._thinking.setSingleShot(True)
        self._thinking.timeout.connect(self._show_thinking)
        self._thinking.start(THINKING_AFTER_MS)
        self.restyle()

    # --- streaming ------------------------------------------------------------------------------

    def add_tokens(self, piece: str) -> None:
        if self.mode != "streaming":
            return  # stopped: pieces still in flight are dropped
        self._thinking.stop()
        self.status.hide()
        self.text += piece
        if not self._render_timer.isActive():
            self._render_timer.start(RENDER_EVERY_MS)

    def _render(self) -> None:
        self.answer.setText(linkify(self.text) + (" ▍" if self.mode == "streaming" else ""))

    def _show_thinking(self) -> None:
        if self.mode == "streaming" and not self.text:
            self.set_status("Searching your files and writing an answer…")

    def set_status(self, text: str, color: str = "") -> None:
        c = color or theme.css(theme.secondary_text(theme.palette()))
        self.status.setStyleSheet(f"color: {c};")
        self.status.setText(text)
        self.status.show()

    def finish(self, result: Answer) -> None:
        self._thinking.stop()
        self._render_timer.stop()
        self.status.hide()
        self.query = result.question or self.question
        self.note = result.note
        self.action = result.action
        if result.mode == "answer":
            self.show_answer(result.text, result.sources, "answer", result.uncited)
        else:
            self.show_answer("", result.sources, "passages")
        if result.note and result.mode == "answer":
            self.note_label.setText(result.note)

    def show_answer(self, text: str, sources: Sequence[Source], mode: str,
                    given: Sequence[Source] = ()) -> None:
        self._thinking.stop()
        self.mode = mode
        self.sources = tuple(sources)
        self.given = tuple(given) if mode == "answer" and not sources else ()
        self.text = text
        self.status.hide()
        if mode == "passages":
            self.label.setText("Passages — no written answer" if sources else "No passages found")
            self.label.show()
            sec = theme.css(theme.secondary_text(theme.palette()))
            items = []
            for i, s in enumerate(sources[:PASSAGES_SHOWN], 1):
                snippet = " ".join(s.text.split())
                if len(snippet) > 240:
                    snippet = snippet[:240].rsplit(" ", 1)[0] + " …"
                items.append(f"<p style='margin:0 0 8px 0'><b>[{i}] {html.escape(source_label(s))}</b><br>"
                             f"{html.escape(snippet)}</p>")
            if len(sources) > PASSAGES_SHOWN:
                items.append(f"<p style='color:{sec}'>{len(sources) - PASSAGES_SHOWN} more in the Sources pane.</p>")
            body = "".join(items) if items else html.escape(
                self.note or "No passage in the library matches the question.")
            self.answer.setTextFormat(Qt.TextFormat.RichText)
            self.answer.setText(body)
            if self.note and sources:
                self.note_label.setText(self.note)
        else:
            self.label.hide()
            self.answer.setTextFormat(Qt.TextFormat.MarkdownText)
            self._render()
            if self.given and not self.note and not says_no_answer(text):
                self.note_label.setText(UNCITED_NOTE)  # a stored answer (the note itself is not kept)
            if mode == "stopped":
                self.set_status("Stopped.")
                if not text:
                    self.answer.hide()
        self.chips.clear()
        self.chips.rtl = right_to_left(text)  # chips follow the answer's direction (Arabic, Hebrew)
        if mode != "passages":
            for s in self.sources:
                chip = Chip(s)
                chip.clicked.connect(lambda _=False, n=s.n: self.cite.emit(self, n))
                self.chips.add(chip)
        self.chips.setVisible(bool(self.chips.items))
        self._foot_buttons(True)

    def fail(self, message: str) -> None:
        self._thinking.stop()
        self._render_timer.stop()
        self.mode = "failed"
        if self.text:
            self._render()
        else:
            self.answer.hide()
        self.set_status(message, theme.css(theme.problem_color(theme.palette())))
        self._foot_buttons(True)

    def stop(self) -> None:
        """Stopped by the user: keep what arrived, say so, at once."""
        if self.mode != "streaming":
            return
        self._render_timer.stop()
        self.show_answer(self.text, (), "stopped")

    def _foot_buttons(self, visible: bool) -> None:
        self.copy_button.setVisible(visible and bool(self.text or self.sources))
        self.regen_button.setVisible(visible)

    def set_can_regenerate(self, can: bool) -> None:
        self.regen_button.setEnabled(can)

    def _link(self, href: str) -> None:
        if href.startswith("cite:"):
            self.cite.emit(self, int(href[5:]))

    def mousePressEvent(self, e: Any) -> None:
        self.selected.emit(self)
        super().mousePressEvent(e)

    def fit(self, room: int) -> None:
        """A short question's bubble stays one line, but never wider than the turn has room for
        (a fixed minimum pushed the conversation past the window's edge)."""
        self.q.setMinimumWidth(max(0, min(self._q_width, room)))

    def set_selected(self, on: bool) -> None:
        self.is_selected = on
        self.restyle()

    def restyle(self) -> None:
        pal = theme.palette()
        acc = theme.accent(pal)
        edge = theme.css(acc) if self.is_selected else theme.css(theme.border(pal))
        self.body.setStyleSheet(f"QFrame#answer {{ background: {theme.css(theme.surface(0.0, pal))};"
                                f" border: 1px solid {edge}; border-radius: 8px; }}")
        self.q.setStyleSheet(f"QLabel#question {{ background: {theme.css(theme.tint(acc, 0.16, pal))};"
                             f" border-radius: 10px; padding: 8px 12px; }}")
        self.note_label.setStyleSheet(f"color: {theme.css(theme.secondary_text(pal))};")
        for chip in self.chips.items:
            if isinstance(chip, Chip):
                chip.restyle()
        if self.mode == "passages":  # its HTML carries colours of the old palette
            self.show_answer(self.text, self.sources, "passages")
        elif self.text:
            # Links are drawn in the link colour of when the text was set, and QLabel ignores
            # setting the same text again.
            self.answer.clear()
            self._render()


def _md_escape(s: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", s)


class Welcome(QWidget):
    """What Quire does and the first step; shown while the library is empty."""

    add_folder = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(32, 24, 32, 24)
        lay.addStretch(1)
        self.logo = QLabel()
        self.logo.setPixmap(theme.app_icon().pixmap(72, 72))
        self.logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.logo)
        self.title = QLabel("Ask questions of your own files")
        self.title.setFont(theme.scaled_font(self, 1.6, bold=True))
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.title)
        self.blurb = QLabel(
            "Quire reads the folders you choose, keeps an index of them on this computer and up to date "
            "as files change, and answers your questions citing the file and page of every passage it used. "
            "Nothing leaves this machine.")
        self.blurb.setWordWrap(True)
        self.blurb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.blurb.setMaximumWidth(500)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.blurb, 10)  # as wide as it may be (500 px), centred by the stretches
        row.addStretch(1)
        lay.addLayout(row)
        lay.addSpacing(8)
        brow = QHBoxLayout()
        brow.addStretch(1)
        self.add_button = QPushButton("Add a folder…")
        self.add_button.setDefault(True)
        self.add_button.setMinimumHeight(34)
        self.add_button.setMinimumWidth(160)
        self.add_button.clicked.connect(self.add_folder.emit)
        brow.addWidget(self.add_button)
        brow.addStretch(1)
        lay.addLayout(brow)
        self.hint = QLabel("or drop files and folders anywhere on this window")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setMaximumWidth(500)
        hrow = QHBoxLayout()
        hrow.addStretch(1)
        hrow.addWidget(self.hint, 10)
        hrow.addStretch(1)
        lay.addLayout(hrow)
        lay.addSpacing(18)
        self.ollama = QLabel()
        self.ollama.setWordWrap(True)
        self.ollama.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ollama.setTextFormat(Qt.TextFormat.RichText)
        self.ollama.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ollama.setMaximumWidth(500)
        orow = QHBoxLayout()
        orow.addStretch(1)
        orow.addWidget(self.ollama, 10)
        orow.addStretch(1)
        lay.addLayout(orow)
        lay.addStretch(2)
        self.restyle()

    def set_mode(self, empty_library: bool, files: int) -> None:
        if empty_library:
            self.title.setText("Ask questions of your own files")
            self.add_button.show()
            self.hint.setText("or drop files and folders anywhere on this window")
            self.blurb.show()
        else:
            self.title.setText("What would you like to know?")
            self.add_button.hide()
            self.blurb.hide()
            what = f"the {files:,} file{'' if files == 1 else 's'} in your library" if files else \
                "your library while it is being indexed"
            self.hint.setText(f"Ask about {what}. Answers cite the passages they use; click a citation to see "
                              "the passage.")

    def set_ollama(self, html_text: str) -> None:
        self.ollama.setText(html_text)

    def restyle(self) -> None:
        sec = theme.css(theme.secondary_text(theme.palette()))
        self.hint.setStyleSheet(f"color: {sec};")
        self.ollama.setStyleSheet(f"color: {sec};")


class ConversationPanel(QWidget):
    ask = Signal(str)
    stop = Signal()
    regenerate = Signal(object)  # Turn
    cite = Signal(object, int)  # Turn, n
    turn_selected = Signal(object)  # Turn
    add_folder = Signal()
    new_chat = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turns: list[Turn] = []
        self.busy = False
        self.selected: Turn | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        head = QHBoxLayout()
        self._title = "New conversation"
        self.title = QLabel(self._title)
        self.title.setFont(theme.scaled_font(self, 1.1, bold=True))
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        head.addWidget(self.title, 1)
        self.new_button = QToolButton()
        self.new_button.setText("New conversation")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat.emit)
        head.addWidget(self.new_button)
        lay.addLayout(head)
        self.banner = Banner()
        lay.addWidget(self.banner)

        self.scroll = QScrollArea()
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no invisible Tab stop: its contents take focus
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.inner = QWidget()
        self.column = QVBoxLayout(self.inner)
        self.column.setContentsMargins(12, 8, 12, 8)
        self.column.setSpacing(4)
        self.welcome = Welcome()
        self.welcome.add_folder.connect(self.add_folder.emit)
        self.column.addWidget(self.welcome)
        self.column.addStretch(1)
        self.scroll.setWidget(self.inner)
        self._stick = True
        bar = self.scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(lambda v: setattr(self, "_stick", v >= bar.maximum() - 24))
        lay.addWidget(self.scroll, 1)

        inrow = QHBoxLayout()
        inrow.setSpacing(6)
        self.edit = QuestionEdit()
        self.edit.submit.connect(self._submit)
        inrow.addWidget(self.edit, 1)
        self.send = QPushButton()
        self.send.setMinimumSize(84, 34)
        self.send.clicked.connect(self._send_or_stop)
        inrow.addWidget(self.send, 0, Qt.AlignmentFlag.AlignBottom)
        lay.addLayout(inrow)
        self.hint = QLabel("Enter sends · Shift+Enter for a new line · Esc stops")
        self.hint.setFont(theme.scaled_font(self, 0.82))
        lay.addWidget(self.hint)
        self._set_send_state()
        self.restyle()

    # --- turns -----------------------------------------------------------------------------------

    def start_turn(self, question: str) -> Turn:
        turn = self._add_turn(question)
        self.select(turn)
        self._stick = True
        return turn

    def _add_turn(self, question: str) -> Turn:
        self.welcome.hide()
        turn = Turn(question)
        turn.selected.connect(self.select)
        turn.cite.connect(self._cite)
        turn.copy.connect(self._copy)
        turn.regenerate.connect(self.regenerate.emit)
        self.column.insertWidget(self.column.count() - 1, turn)
        self.turns.append(turn)
        turn.fit(self.scroll.viewport().width() - 2 * 12 - 40)
        self._update_regen()
        return turn

    def load(self, messages: Sequence[Any]) -> None:
        """Show a stored conversation (ChatMessage values)."""
        self.clear()
        turn: Turn | None = None
        for m in messages:
            if m.role == "user":
                turn = self._add_turn(m.text)
                turn.mode = "loaded"
                turn._thinking.stop()
            elif turn is not None:
                turn.show_answer(m.text, m.sources, m.mode, m.given)
                turn = None
        if turn is not None:  # a question whose answer never came (the window closed)
            turn.fail("No answer was saved for this question.")
        if self.turns:
            self.select(self.turns[-1])
        self._stick = True
        self._follow()

    def clear(self) -> None:
        for t in self.turns:
            t.setParent(None)
            t.deleteLater()
        self.turns = []
        self.selected = None
        self.welcome.show()
        self.turn_selected.emit(None)

    def select(self, turn: Turn | None) -> None:
        if turn is not None and turn is self.selected:
            return
        if self.selected is not None:
            self.selected.set_selected(False)
        self.selected = turn
        if turn is not None:
            turn.set_selected(True)
        self.turn_selected.emit(turn)

    def _cite(self, turn: Turn, n: int) -> None:
        self.select(turn)
        self.cite.emit(turn, n)

    def _copy(self, turn: Turn) -> None:
        text = plain_answer(turn.text, turn.sources) if turn.mode != "passages" else "\n\n".join(
            f"[{i}] {s.path}" + (f", page {s.page}" if s.page is not None else "") + f"\n{s.text.strip()}"
            for i, s in enumerate(turn.sources, 1))
        QGuiApplication.clipboard().setText(text)
        turn.copy_button.setText("Copied")
        QTimer.singleShot(1500, lambda: turn.copy_button.setText("Copy"))

    def copy_selected(self) -> None:
        if self.selected is not None:
            self._copy(self.selected)

    def _follow(self, *_: object) -> None:
        if self._stick:
            bar = self.scroll.verticalScrollBar()
            bar.setValue(bar.maximum())

    # --- input -----------------------------------------------------------------------------------

    def _submit(self) -> None:
        if self.busy:
            return
        text = self.edit.toPlainText().strip()
        if not text:
            return
        self.edit.clear()
        self.ask.emit(text)

    def _send_or_stop(self) -> None:
        if self.busy:
            self.stop.emit()
        else:
            self._submit()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._set_send_state()
        self._update_regen()

    def set_can_ask(self, can: bool) -> None:
        self.edit.setEnabled(can)
        self.send.setEnabled(can or self.busy)

    def _set_send_state(self) -> None:
        pal = theme.palette()
        if self.busy:
            self.send.setText("Stop")
            self.send.setIcon(theme.stop_icon(theme.problem_color(pal)))
            self.send.setToolTip("Stop the answer (Esc)")
        else:
            self.send.setText("Ask")
            self.send.setIcon(theme.send_icon(theme.accent(pal)))
            self.send.setToolTip("Ask (Enter)")
        self.send.setAccessibleName(self.send.text())

    def _update_regen(self) -> None:
        for i, t in enumerate(self.turns):
            t.set_can_regenerate(not self.busy and i == len(self.turns) - 1)
            t.regen_button.setVisible(i == len(self.turns) - 1 and t.mode not in ("streaming",))

    def set_title(self, text: str) -> None:
        self._title = text
        self._fit_title()

    def _fit_title(self) -> None:
        fm = self.title.fontMetrics()
        self.title.setText(fm.elidedText(self._title, Qt.TextElideMode.ElideRight, max(120, self.title.width())))
        self.title.setToolTip(self._title)

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._fit_title()  # shortened for the width it has now, not the width it had when set
        self._fit_turns()

    def _fit_turns(self) -> None:
        room = self.scroll.viewport().width() - 2 * 12 - 40
        for t in self.turns:
            t.fit(room)

    def restyle(self) -> None:
        self.hint.setStyleSheet(f"color: {theme.css(theme.secondary_text(theme.palette()))};")
        self.welcome.restyle()
        self.banner.restyle()
        for t in self.turns:
            t.restyle()
        self._set_send_state()
