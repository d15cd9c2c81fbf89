"""A message strip with the fix as a button (and a progress bar for fixes that take a while)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton, QVBoxLayout, QWidget

from . import theme


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.kind = "info"
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        lay.setSpacing(10)
        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.icon)
        col = QVBoxLayout()
        col.setSpacing(4)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.text)
        self.bar = QProgressBar()
        self.bar.setFixedHeight(14)
        self.bar.hide()
        col.addWidget(self.bar)
        # The actions under the message, not beside it: three buttons beside it squeezed the
        # message into a narrow column many lines tall.
        self.buttons = QHBoxLayout()
        self.buttons.setSpacing(6)
        self.buttons.addStretch(1)
        col.addLayout(self.buttons)
        lay.addLayout(col, 1)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.clicked.connect(self.hide)
        lay.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, kind: str, html: str, actions: Sequence[tuple[str, Callable[[], None]]] = (),
                     closable: bool = True) -> None:
        self.kind = kind
        self.text.setText(html)
        while self.buttons.count() > 1:  # the stretch stays last
            w = self.buttons.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.deleteLater()
        for i, (label, fn) in enumerate(actions):
            b = QPushButton(label)
            b.clicked.connect(fn)
            self.buttons.insertWidget(i, b)
        self.close_button.setVisible(closable)
        self.bar.hide()
        self.restyle()
        self.show()

    def action_buttons(self) -> list[QPushButton]:
        return [w for i in range(self.buttons.count())
                if isinstance(w := self.buttons.itemAt(i).widget(), QPushButton)]  # (the stretch has none)

    def set_progress(self, fraction: float | None, text: str = "") -> None:
        if fraction is None:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(text or "%p%")
        self.bar.setTextVisible(bool(text) or fraction is not None)
        self.bar.show()
        for b in self.action_buttons():
            b.setEnabled(False)

    def restyle(self) -> None:
        pal = theme.palette()
        color = {"warning": theme.warn_color(pal), "problem": theme.problem_color(pal)}.get(self.kind,
                                                                                       theme.accent(pal))
        icon = {"warning": "dialog-warning", "problem": "dialog-error"}.get(self.kind, "dialog-information")
        self.icon.setPixmap(theme.std_icon(icon).pixmap(20, 20))
        # A coloured edge says the kind at a glance; the warning tint alone came out drab khaki.
        self.setStyleSheet(f"QFrame#banner {{ background: {theme.css(theme.tint(color, 0.10, pal))};"
                           f" border: 1px solid {theme.css(theme.tint(color, 0.45, pal))};"
                           f" border-left: 4px solid {theme.css(color)}; border-radius: 6px; }}")
