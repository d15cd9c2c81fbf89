"""The library (left): each folder and file with its state, a progress bar while indexing, and
actions (pause/resume, re-scan, reveal, remove). Draws from Snapshot / Progress / WatchStatus
values the Session hands over; it never looks at the disk itself."""

from __future__ import annotations

import os
import time
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.types import Progress
from app.workers.views import RootView, Snapshot

from . import theme

SHOW_PROGRESS_AFTER_MS = 500  # short runs finish without a bar flashing up


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


class RootRow(QWidget):
    """One library entry: icon, name, where it is, its state and (while indexing) a bar."""

    def __init__(self, root: RootView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root = root
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(8)
        self.icon = QLabel()
        self.icon.setPixmap(theme.std_icon("text-x-generic" if root.is_file else "folder").pixmap(24, 24))
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.icon)
        col = QVBoxLayout()
        col.setSpacing(2)
        self.name = QLabel(os.path.basename(root.path.rstrip(os.sep)) or root.path)
        self.name.setFont(theme.scaled_font(self, 1.0, bold=True))
        self.where = QLabel()
        self.where.setFont(theme.scaled_font(self, 0.86))
        self.state = QLabel()
        self.state.setFont(theme.scaled_font(self, 0.86))
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(5)
        self.bar.hide()
        for w in (self.name, self.where, self.state):
            w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        col.addWidget(self.name)
        col.addWidget(self.where)
        col.addWidget(self.state)
        col.addWidget(self.bar)
        lay.addLayout(col, 1)
        self.setToolTip(root.path)
        self._full_where = os.path.dirname(root.path.rstrip(os.sep))

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._elide()

    def _elide(self) -> None:
        fm = self.where.fontMetrics()
        self.where.setText(fm.elidedText(self._full_where, Qt.TextElideMode.ElideMiddle, max(40, self.where.width())))

    def set_state(self, text: str, color: str = "", progress: tuple[int, int] | None = None) -> None:
        sec = theme.css(theme.secondary_text(theme.palette()))
        self.where.setStyleSheet(f"color: {sec};")
        self.state.setText(text)
        self.state.setStyleSheet(f"color: {color or sec};")
        if progress is None:
            self.bar.hide()
        else:
            done, total = progress
            self.bar.setRange(0, max(total, 0))
            self.bar.setValue(min(done, total) if total else 0)
            self.bar.show()
        self._elide()


class LibraryPanel(QWidget):
    add_folder = Signal()
    add_files = Signal()
    pause = Signal(str, bool)  # path, paused
    rescan = Signal(str)
    reveal = Signal(str)
    remove = Signal(str)
    show_problems = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snap: Snapshot | None = None
        self.watch: dict[str, Any] = {}
        self.progress: Progress | None = None
        self._run_started = 0.0
        self._run_roots: set[str] = set()  # roots with files in the current run
        self._bar_visible = False
        self.writable = True

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        head = QHBoxLayout()
        title = QLabel("Library")
        title.setFont(theme.scaled_font(self, 1.1, bold=True))
        head.addWidget(title)
        head.addStretch(1)
        self.add_button = QToolButton()
        self.add_button.setText("Add")
        self.add_button.setIcon(theme.std_icon("list-add"))
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.add_button.setToolTip("Add a folder to the library (Ctrl+O)")
        self.add_button.setAccessibleName("Add a folder")
        menu = QMenu(self.add_button)
        menu.addAction("Add a folder…", self.add_folder.emit)
        menu.addAction("Add files…", self.add_files.emit)
        self.add_button.setMenu(menu)
        self.add_button.clicked.connect(self.add_folder.emit)
        head.addWidget(self.add_button)
        lay.addLayout(head)

        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.currentItemChanged.connect(lambda *_: self._update_actions())
        self.list.setAccessibleName("Library folders")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        lay.addWidget(self.list, 1)

        self.empty = QLabel("No folders yet.\nAdd one, or drop files and folders anywhere on this window.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.empty)

        # Whole-library progress: appears only after SHOW_PROGRESS_AFTER_MS of work.
        self.run_box = QWidget()
        rb = QVBoxLayout(self.run_box)
        rb.setContentsMargins(4, 0, 4, 0)
        rb.setSpacing(2)
        self.run_label = QLabel()
        self.run_label.setFont(theme.scaled_font(self, 0.86))
        self.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.run_bar = QProgressBar()
        self.run_bar.setTextVisible(False)
        self.run_bar.setFixedHeight(6)
        rb.addWidget(self.run_label)
        rb.addWidget(self.run_bar)
        self.run_box.hide()
        lay.addWidget(self.run_box)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.timeout.connect(self._reveal_progress)

        # Actions on the selected entry.
        self.actions_bar = QWidget()
        bar = QHBoxLayout(self.actions_bar)
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        self.act_pause = self._action("Pause", "media-playback-pause", "Pause watching and indexing this entry",
                                      self._toggle_pause)
        self.act_rescan = self._action("Re-scan", "view-refresh", "Look for changes in this entry now",
                                       lambda: self._emit_current(self.rescan))
        self.act_reveal = self._action("Show in file manager", "folder-open", "Open it in the file manager",
                                       lambda: self._emit_current(self.reveal))
        self.act_remove = self._action("Remove…", "edit-delete", "Remove from the library (its files stay on disk)",
                                       lambda: self._emit_current(self.remove))
        self.act_remove.setShortcut(QKeySequence.StandardKey.Delete)
        self.act_remove.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.list.addAction(self.act_remove)
        self.action_buttons: list[QToolButton] = []
        for act in (self.act_pause, self.act_rescan, self.act_reveal, self.act_remove):
            b = QToolButton()
            self.action_buttons.append(b)
            b.setDefaultAction(act)
            b.setAutoRaise(True)
            b.setIconSize(QSize(18, 18))
            bar.addWidget(b)
        bar.addStretch(1)
        self.problems_button = QPushButton()
        self.problems_button.setFlat(True)
        self.problems_button.setIcon(theme.std_icon("dialog-warning"))
        self.problems_button.clicked.connect(self.show_problems.emit)
        self.problems_button.hide()
        bar.addWidget(self.problems_button)
        lay.addWidget(self.actions_bar)
        self._rows: dict[str, tuple[QListWidgetItem, RootRow]] = {}
        self._update_actions()
        self._refresh_empty()
        self.restyle()

    def _action(self, text: str, icon: str, tip: str, slot: Any) -> QAction:
        act = QAction(theme.std_icon(icon), text, self)
        act.setToolTip(tip)
        act.triggered.connect(slot)
        return act

    # --- data in ---------------------------------------------------------------------------

    def set_snapshot(self, snap: Snapshot) -> None:
        self.snap = snap
        current = self.current_path()
        wanted = [r.path for r in snap.roots]
        for path in list(self._rows):
            if path not in wanted:
                item, _ = self._rows.pop(path)
                self.list.takeItem(self.list.row(item))
        for i, root in enumerate(snap.roots):
            if root.path in self._rows:
                item, row = self._rows[root.path]
                row.root = root
            else:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, root.path)
                item.setData(Qt.ItemDataRole.AccessibleTextRole, root.path)
                row = RootRow(root)
                self.list.insertItem(i, item)
                self.list.setItemWidget(item, row)
                self._rows[root.path] = (item, row)
        if current in self._rows:
            self.list.setCurrentItem(self._rows[current][0])
        elif self.list.count() and self.list.currentItem() is None:
            self.list.setCurrentRow(0)
        n = len(snap.problems)
        self.problems_button.setText(plural(n, "problem"))
        self.problems_button.setVisible(n > 0)
        self._refresh_rows()
        self._refresh_empty()
        self._update_actions()

    def set_watch_statuses(self, statuses: list[Any]) -> None:
        self.watch = {getattr(s, "folder", ""): s for s in statuses}
        self._refresh_rows()

    def set_progress(self, p: Progress) -> None:
        if p.phase == "embed":
            return  # the status bar shows the embedder; rows show files
        if p.phase == "done":
            self.progress = None
            self._show_timer.stop()
            self._bar_visible = False
            self.run_box.hide()
        else:
            if self.progress is None:
                self._run_started = time.monotonic()
                self._run_roots = set()
                self._show_timer.start(SHOW_PROGRESS_AFTER_MS)
            self.progress = p
            if p.current:
                root = next((path for path in self._rows if under(p.current, path)), None)
                if root is not None:
                    self._run_roots.add(root)
            self._draw_run()
        self._refresh_rows()

    def set_writable(self, writable: bool) -> None:
        self.writable = writable
        self.add_button.setEnabled(writable)
        self._update_actions()

    def _reveal_progress(self) -> None:
        if self.progress is not None:
            self._bar_visible = True
            self._draw_run()
            self.run_box.show()

    def _draw_run(self) -> None:
        p = self.progress
        if p is None or not self._bar_visible:
            return
        if p.phase == "parse" and p.files_total:
            name = os.path.basename(p.current) if p.current else ""
            text = f"Indexing {p.files_done:,} of {p.files_total:,} files"
            self.run_bar.setRange(0, p.files_total)
            self.run_bar.setValue(p.files_done)
        elif p.phase == "compact":
            text, name = "Updating the search index…", ""
            self.run_bar.setRange(0, 0)
        else:
            text = "Looking for changes…" + (f" {p.files_total:,} files" if p.files_total else "")
            name = ""
            self.run_bar.setRange(0, 0)
        fm = self.run_label.fontMetrics()
        full = f"{text} · {name}" if name else text
        self.run_label.setText(fm.elidedText(full, Qt.TextElideMode.ElideMiddle, max(80, self.run_label.width())))
        self.run_label.setToolTip(p.current or "")

    def _refresh_rows(self) -> None:
        p = self.progress
        active = None
        if p is not None and p.current:
            active = next((path for path in self._rows if under(p.current, path)), None)
        for path, (_, row) in self._rows.items():
            r = row.root
            st = self.watch.get(path) or next((s for k, s in self.watch.items() if k and under(path, k)), None)
            state = getattr(st, "state", "") if st is not None else ""
            if not r.present or state == "offline":
                msg = getattr(st, "message", "") or "not connected or moved"
                row.set_state(f"Offline · {msg}", theme.css(theme.warn_color()))
            elif r.paused or state == "paused":
                row.set_state(f"Paused · {plural(r.files, 'file')}")
            elif path == active and p is not None and p.phase == "parse" and self._bar_visible:
                # Its problems stay in view while it indexes (they went away until the run ended).
                problems = f" · {plural(r.problems, 'problem')}" if r.problems else ""
                row.set_state(f"Indexing {p.files_done:,} of {p.files_total:,}{problems}",
                              theme.css(theme.accent()), (p.files_done, p.files_total))
            elif p is not None and (path in self._run_roots or r.files == 0) and self._bar_visible:
                row.set_state("Indexing…", theme.css(theme.accent()), (0, 0))
            else:
                parts = ["Ready", plural(r.files, "file")]
                text = " · ".join(parts)
                color = ""
                if r.problems:
                    text += f" · {plural(r.problems, 'problem')}"
                    color = theme.css(theme.problem_color())
                elif state == "polling":
                    text += " · checked every few minutes"
                row.set_state(text, color)
            item, _ = self._rows[path]
            item.setSizeHint(row.sizeHint())

    def _refresh_empty(self) -> None:
        has = bool(self._rows)
        self.list.setVisible(has)
        self.empty.setVisible(not has)
        self.actions_bar.setVisible(has)

    def restyle(self) -> None:
        pal = theme.palette()
        acc = theme.accent(pal)
        # A tinted selection keeps each row's own text colours readable (a full highlight would not).
        self.list.setStyleSheet(
            f"QListWidget::item:selected {{ background: {theme.css(theme.tint(acc, 0.16, pal))}; }}"
            f"QListWidget::item:selected:!active {{ background: {theme.css(theme.tint(acc, 0.10, pal))}; }}")
        self.empty.setStyleSheet(f"color: {theme.css(theme.secondary_text(pal))}; padding: 16px;")
        self._refresh_rows()

    # --- actions -------------------------------------------------------------------------------

    def current_path(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def current_root(self) -> RootView | None:
        path = self.current_path()
        return self._rows[path][1].root if path in self._rows else None

    def _emit_current(self, signal: Any) -> None:
        path = self.current_path()
        if path:
            signal.emit(path)

    def _toggle_pause(self) -> None:
        root = self.current_root()
        if root is not None:
            self.pause.emit(root.path, not root.paused)

    def _update_actions(self) -> None:
        root = self.current_root()
        has = root is not None
        for act in (self.act_pause, self.act_rescan, self.act_remove):
            act.setEnabled(has and self.writable)
        self.act_reveal.setEnabled(has)
        if root is not None and root.paused:
            self.act_pause.setText("Resume")
            self.act_pause.setIcon(theme.std_icon("media-playback-start"))
            self.act_pause.setToolTip("Resume watching and indexing this entry")
        else:
            self.act_pause.setText("Pause")
            self.act_pause.setIcon(theme.std_icon("media-playback-pause"))
            self.act_pause.setToolTip("Pause watching and indexing this entry")

    def _context_menu(self, pos: Any) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.list.setCurrentItem(item)
        menu = QMenu(self)
        for act in (self.act_pause, self.act_rescan, self.act_reveal):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_remove)
        menu.exec(self.list.viewport().mapToGlobal(pos))
