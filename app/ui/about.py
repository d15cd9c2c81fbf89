"""About Quire: versions and where its data lives."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.workers.views import Versions

from . import theme


class AboutDialog(QDialog):
    def __init__(self, v: Versions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Quire")
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(theme.app_icon().pixmap(64, 64))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(logo)
        text = QLabel(
            f"<h2>Quire {html.escape(v.quire)}</h2>"
            "<p>Ask questions of the files on your own computer, answered by a local model with citations.</p>"
            "<table cellspacing='4'>"
            + "".join(f"<tr><td>{k}</td><td><b>{html.escape(val)}</b></td></tr>" for k, val in (
                ("Python", v.python), ("Qt", v.qt), ("PySide6", v.pyside), ("LanceDB", v.lancedb),
                ("llama-index-core", v.llama_index)))
            + "</table>"
            f"<p>Data folder: <code>{html.escape(v.data_dir)}</code><br>"
            f"Log file: <code>{html.escape(v.log_path)}</code></p>")
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(text, 1)
        lay.addLayout(top)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.setMinimumWidth(480)
