"""Files that could not be indexed, with the reason; retry, exclude or open them."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.workers.views import Problem


class ProblemsDialog(QDialog):
    retry = Signal(list)  # paths
    exclude = Signal(list)
    open_file = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files Quire could not index")
        self.resize(760, 420)
        self.problems: list[Problem] = []
        lay = QVBoxLayout(self)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        lay.addWidget(self.intro)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["File", "Why"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 300)
        # A path's end (the file's name) tells rows apart: files in one folder share the start.
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.itemSelectionChanged.connect(self._update)
        self.table.itemDoubleClicked.connect(lambda *_: self._open())
        self.table.setAccessibleName("Files that could not be indexed")
        lay.addWidget(self.table, 1)
        # The selected file's whole path and reason: the table shortens both to fit.
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.details)
        row = QHBoxLayout()
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Try indexing the selected files again")
        self.exclude_button = QPushButton("Exclude")
        self.exclude_button.setToolTip("Add an ignore rule for the selected files so they are skipped from now on")
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open the selected file")
        self.retry_button.clicked.connect(lambda: self.retry.emit(self.selected()))
        self.exclude_button.clicked.connect(lambda: self.exclude.emit(self.selected()))
        self.open_button.clicked.connect(self._open)
        for b in (self.retry_button, self.exclude_button, self.open_button):
            row.addWidget(b)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row.addWidget(buttons)
        lay.addLayout(row)
        self._update()

    def set_problems(self, problems: Sequence[Problem], writable: bool = True) -> None:
        keep = set(self.selected())
        self.problems = list(problems)
        self.table.setRowCount(len(problems))
        for i, p in enumerate(problems):
            a = QTableWidgetItem(p.path)
            a.setToolTip(p.path)
            b = QTableWidgetItem(p.reason)
            b.setToolTip(p.reason)
            self.table.setItem(i, 0, a)
            self.table.setItem(i, 1, b)
            if p.path in keep:
                self.table.selectRow(i)
        # The reasons are short and read in full; the paths get the rest (elided in the middle).
        fit = self.table.sizeHintForColumn(1) + 12 if problems else 300
        self.table.horizontalHeader().resizeSection(1, max(160, min(fit, int(self.width() * 0.45))))
        n = len(problems)
        self.intro.setText(
            "Every file below was skipped, the rest of the library is indexed. Fix the file and Quire retries it "
            "when it changes, or retry now; exclude files you never want indexed." if n else
            "Every file in the library could be indexed.")
        self.writable = writable
        self._update()

    def selected(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.problems[r].path for r in rows if r < len(self.problems)]

    def _open(self) -> None:
        sel = self.selected()
        if sel:
            self.open_file.emit(sel[0])

    def _update(self) -> None:
        sel = self.selected()
        chosen = next((p for p in self.problems if len(sel) == 1 and p.path == sel[0]), None)
        self.details.setText(f"<b>{html.escape(chosen.path)}</b><br>{html.escape(chosen.reason)}" if chosen else "")
        self.details.setVisible(chosen is not None)
        has = bool(sel)
        writable = getattr(self, "writable", True)
        self.retry_button.setEnabled(has and writable)
        self.exclude_button.setEnabled(has and writable)
        self.open_button.setEnabled(len(self.selected()) == 1)
        self.table.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
