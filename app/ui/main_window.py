"""The Quire window: library (left), conversation (centre), sources (right), status bar.

Slots here only update widgets and start work through ``app.workers.session.Session``;
nothing in this file reads the disk, the store, SQLite or the network.
"""

from __future__ import annotations

import html
import logging
import os
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QProcess, QSettings, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.answer import says_no_answer
from app.core.config import Paths, Settings
from app.core.errors import Cancelled, QuireError
from app.core.types import IndexReport, Progress
from app.workers.session import Session, home_folder, open_command, reveal_command, versions
from app.workers.tasks import Task
from app.workers.views import AddResult, OpenResult, Snapshot

from . import theme
from .about import AboutDialog
from .chats_panel import ChatsPanel
from .conversation import ConversationPanel, Turn
from .errors import ErrorReporter
from .library_panel import LibraryPanel, plural
from .problems import ProblemsDialog
from .settings_dialog import SettingsDialog
from .sources_panel import SourcesPanel

log = logging.getLogger(__name__)

SNAPSHOT_EVERY_MS = 1500  # while indexing or embedding
HEALTH_EVERY_MS = 20_000


class MainWindow(QMainWindow):
    closed = Signal()  # after a clean shutdown

    def __init__(self, paths: Paths, settings: Settings, log_path: str = "",
                 reporter: ErrorReporter | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.log_path = log_path or str(paths.log_dir / "quire.log")
        self.setWindowTitle("Quire")
        self.setWindowIcon(theme.app_icon())
        self.setAcceptDrops(True)
        self.errors = reporter or ErrorReporter(self.log_path, self)
        self.errors.window = self
        self.session = Session(paths, settings, self)
        self.snap: Snapshot | None = None
        self.ollama: Any = None  # the last ServerStatus
        self.chat_id: int | None = None
        self.ask_task: Any = None
        self.ask_turn: Turn | None = None
        self.opened: OpenResult | None = None
        self.problems_dialog: ProblemsDialog | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.pull_task: Task | None = None
        self.rebuilding = False
        self._closing = False
        self._closed = False
        self._indexing = False
        self._restyling = False
        self._ollama_exe: str | None = None
        self._banner_is_ollama = False

        self._build()
        self._menus()
        self._wire()
        self.ui_settings = QSettings(str(paths.config_dir / "window.ini"), QSettings.Format.IniFormat)
        self._restore()

    # --- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.library = LibraryPanel()
        self.chats = ChatsPanel()
        self.conversation = ConversationPanel()
        self.sources = SourcesPanel()

        left = QSplitter(Qt.Orientation.Vertical)
        left.setChildrenCollapsible(False)
        left.addWidget(_padded(self.library))
        left.addWidget(_padded(self.chats))
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        self.left_split = left
        main = QSplitter(Qt.Orientation.Horizontal)
        main.setChildrenCollapsible(False)
        main.addWidget(left)
        main.addWidget(_padded(self.conversation))
        main.addWidget(_padded(self.sources))
        # The conversation matters most: it takes most of any change in width, the side panes
        # a share (they were fixed, so a narrow window squeezed only the conversation).
        main.setStretchFactor(0, 1)
        main.setStretchFactor(1, 4)
        main.setStretchFactor(2, 1)
        left.setMinimumWidth(180)
        self.conversation.setMinimumWidth(300)
        self.sources.setMinimumWidth(170)
        main.setSizes([290, 640, 350])
        self.main_split = main
        for split in (left, main):
            split.setHandleWidth(5)
        self.setCentralWidget(main)

        sb = self.statusBar()
        sb.setSizeGripEnabled(True)
        self.status_ollama = QLabel()
        self.status_ollama.setContentsMargins(6, 0, 6, 0)
        self.status_index = QLabel()
        self.status_backlog = QLabel()
        self.status_backlog.hide()
        self.status_rebuild = QProgressBar()
        self.status_rebuild.setMaximumWidth(160)
        self.status_rebuild.setFixedHeight(14)
        self.status_rebuild.hide()
        self.status_mode = QLabel()
        self.status_mode.hide()
        icon_holder = QWidget()
        row = QHBoxLayout(icon_holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.status_dot = QLabel()
        row.addWidget(self.status_dot)
        row.addWidget(self.status_ollama)
        sb.addWidget(icon_holder)
        sb.addWidget(self.status_index)
        sb.addWidget(self.status_backlog)
        sb.addPermanentWidget(self.status_mode)
        sb.addPermanentWidget(self.status_rebuild)
        self._backlog_shown = False
        sb.messageChanged.connect(self._status_message)
        self._set_ollama_status(None)
        self.status_index.setText("Opening the library…")

        # Tab goes through the window as it reads: the library, its actions, the conversations,
        # then the question (the actions came before the library, the question first of all).
        chain = [self.library.add_button, self.library.list, *self.library.action_buttons,
                 self.chats.new_button, self.chats.list, self.conversation.new_button,
                 self.conversation.edit, self.conversation.send]
        for a, b in zip(chain, chain[1:], strict=False):
            self.setTabOrder(a, b)

    def _menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        self.act_add_folder = self._act(m, "Add a &Folder…", "Ctrl+O", self.choose_folder)
        self.act_add_files = self._act(m, "Add &Files…", "Ctrl+Shift+O", self.choose_files)
        m.addSeparator()
        self.act_problems = self._act(m, "&Problems…", "", self.show_problems)
        self.act_settings = self._act(m, "&Settings…", "Ctrl+,", self.open_settings)
        m.addSeparator()
        self._act(m, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        m = mb.addMenu("&Conversation")
        self._act(m, "&New Conversation", "Ctrl+N", self.new_chat)
        self._act(m, "&Ask a Question", "Ctrl+L", self.focus_question)
        self.act_stop = self._act(m, "S&top Answer", "Esc", self.stop_answer)
        self.act_stop.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        m.addSeparator()
        self._act(m, "&Copy Answer", "Ctrl+Shift+C", self.conversation.copy_selected)
        self._act(m, "&Regenerate Answer", "Ctrl+R", self.regenerate_last)
        m = mb.addMenu("&Help")
        self._act(m, "Open the &Data Folder", "", lambda: self._open_url(str(self.paths.data_dir)))
        self._act(m, "Show the &Log File", "", lambda: self._open_url(self.log_path))
        m.addSeparator()
        self._act(m, "&About Quire", "F1", self.about)

    def _act(self, menu: Any, text: str, key: Any, slot: Any) -> QAction:
        act = QAction(text, self)
        if key:
            act.setShortcut(QKeySequence(key))
        act.triggered.connect(slot)
        menu.addAction(act)
        self.addAction(act)
        return act

    def _wire(self) -> None:
        s = self.session
        s.opened.connect(self._opened)
        s.open_failed.connect(self._open_failed)
        s.progress.connect(self._progress)
        s.embed_progress.connect(self._embed_progress)
        s.report.connect(self._report)
        s.watch_status.connect(self._watch_status)
        s.background_error.connect(self.errors.show)
        s.snapshot.connect(self._snapshot)
        s.ollama_status.connect(self._set_ollama_status)
        s.rebuild_progress.connect(self._rebuild_progress)

        lib = self.library
        lib.add_folder.connect(self.choose_folder)
        lib.add_files.connect(self.choose_files)
        lib.pause.connect(self._pause)
        lib.rescan.connect(self._rescan)
        lib.reveal.connect(self._reveal)
        lib.remove.connect(self._remove)
        lib.show_problems.connect(self.show_problems)

        self.chats.chosen.connect(self.open_chat)
        self.chats.new_chat.connect(self.new_chat)
        self.chats.delete.connect(self._delete_chat)
        self.chats.rename.connect(self._rename_chat)

        c = self.conversation
        c.ask.connect(self.ask)
        c.stop.connect(self.stop_answer)
        c.regenerate.connect(lambda t: self.regenerate_last())
        c.cite.connect(lambda t, n: self.sources.select(n))
        c.turn_selected.connect(self._turn_selected)
        c.add_folder.connect(self.choose_folder)
        c.new_chat.connect(self.new_chat)

        self.sources.open_file.connect(lambda src: self.open_file(src.path, src.page))
        self.sources.reveal.connect(lambda src: self._reveal(src.path))

        self.snapshot_timer = QTimer(self)
        self.snapshot_timer.setInterval(SNAPSHOT_EVERY_MS)
        self.snapshot_timer.timeout.connect(self.session.refresh)
        self.health_timer = QTimer(self)
        self.health_timer.setInterval(HEALTH_EVERY_MS)
        self.health_timer.timeout.connect(self.session.check_ollama)

    # --- start-up ------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the library (on a worker thread) and look for Ollama."""
        self.conversation.set_can_ask(False)
        self.session.open()
        self.session.check_ollama()
        self.health_timer.start()
        Session.find_ollama().on_done(lambda exe: setattr(self, "_ollama_exe", exe))

    def _opened(self, result: OpenResult) -> None:
        self.opened = result
        self.conversation.set_can_ask(True)
        self.library.set_writable(result.writable)
        for act in (self.act_add_folder, self.act_add_files):
            act.setEnabled(result.writable)
        if not result.writable:
            self.status_mode.setText("Read-only")
            self.status_mode.setToolTip(result.lock_message)
            self.status_mode.show()
            self.conversation.banner.show_message(
                "warning", f"<b>{html.escape(result.lock_message)}</b><br>This window answers questions from the "
                           "index; adding, removing and re-scanning folders are off until the other Quire closes. "
                           + html.escape(result.lock_action))
        elif result.mismatch:
            self._show_mismatch(result.mismatch)
        self.session.refresh()
        self.snapshot_timer.start()
        self.session.list_chats().on_done(self._chats_loaded)
        self.focus_question()

    def _open_failed(self, exc: BaseException) -> None:
        self.status_index.setText("The library could not be opened.")
        self.errors.show(exc)

    def _show_mismatch(self, why: str) -> None:
        self.conversation.banner.show_message(
            "warning", f"<b>The settings changed since the index was built</b>: {html.escape(why)}.<br>"
                       "Questions are answered from the current index until it is rebuilt.",
            [("Rebuild now…", lambda: self._apply_settings(self.session.settings, True, force_rebuild=True))])

    # --- library -------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        if not self._can_write():
            return
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library", home_folder())
        if folder:
            self.add_paths([folder])

    def choose_files(self) -> None:
        if not self._can_write():
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Add files to the library", home_folder())
        if files:
            self.add_paths(files)

    def add_paths(self, paths: list[str]) -> None:
        if not self._can_write():
            return
        self.statusBar().showMessage(f"Adding {plural(len(paths), 'item')} to the library…", 4000)
        self.session.add(paths).on_done(self._added).on_failed(self.errors.show)

    def _added(self, result: AddResult) -> None:
        if result.refused:
            items = "".join(f"<li><b>{html.escape(os.path.basename(p) or p)}</b>: {html.escape(why)}</li>"
                            for p, why in result.refused[:6])
            more = f"<br>…and {len(result.refused) - 6} more." if len(result.refused) > 6 else ""
            added = f" The other {plural(len(result.added), 'item')} were added." if result.added else ""
            self.conversation.banner.show_message(
                "warning", f"Not added to the library:<ul style='margin:0'>{items}</ul>{more}{added}")
        notes = [f"{os.path.basename(p) or p} is already in the library (inside {folder})."
                 for p, folder in result.covered[:3]]
        notes += [f"{', '.join(os.path.basename(x) or x for x in inside)} "
                  f"{'is' if len(inside) == 1 else 'are'} now part of {os.path.basename(new) or new}."
                  for new, inside in result.merged[:3]]
        if result.added:
            notes.insert(0, f"Added {plural(len(result.added), 'item')}; indexing starts now.")
        if notes:
            self.statusBar().showMessage(" ".join(notes), 8000)

    def _can_write(self) -> bool:
        if self.opened is None:
            self.statusBar().showMessage("The library is still opening…", 3000)
            return False
        if not self.session.writable:
            self.statusBar().showMessage("Read-only: another Quire is updating this library.", 5000)
            return False
        return True

    def _pause(self, path: str, paused: bool) -> None:
        if self._can_write():
            self.session.set_paused(path, paused).on_failed(self.errors.show)

    def _rescan(self, path: str) -> None:
        if self._can_write():
            try:
                self.session.rescan([path])
            except QuireError as exc:
                self.errors.show(exc)
            self.statusBar().showMessage(f"Looking for changes in {os.path.basename(path) or path}…", 4000)

    def _remove(self, path: str) -> None:
        if not self._can_write():
            return
        root = self.library.current_root()
        files = f" and the {plural(root.files, 'file')} indexed from it" if root is not None and root.files else ""
        box = QMessageBox(QMessageBox.Icon.Question, "Remove from the library?",
                          f"Remove {path} from the library?",
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(f"Quire forgets it{files}. Nothing is deleted from your disk.")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is remove:
            self.session.remove(path).on_done(
                # (its count differs from the one asked with: it includes the files that failed)
                lambda n: self.statusBar().showMessage(f"Removed {path} from the library.", 5000)
            ).on_failed(self.errors.show)

    def _reveal(self, path: str) -> None:
        reveal_command(path).on_done(self._run_or_open).on_failed(self.errors.show)

    def open_file(self, path: str, page: int | None = None) -> None:
        open_command(path, page).on_done(self._run_or_open).on_failed(self.errors.show)

    def _run_or_open(self, target: tuple[str, list[str] | None]) -> None:
        path, cmd = target
        if cmd:
            ok, _ = QProcess.startDetached(cmd[0], cmd[1:])
            if ok:
                return
        self._open_url(path)

    def _open_url(self, path: str) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.statusBar().showMessage(f"No program to open {path} was found.", 6000)

    def show_problems(self) -> None:
        if self.problems_dialog is None:
            d = ProblemsDialog(self)
            d.retry.connect(self._retry)
            d.exclude.connect(self._exclude)
            d.open_file.connect(self.open_file)
            self.problems_dialog = d
        self.problems_dialog.set_problems(self.snap.problems if self.snap else (), self.session.writable)
        self.problems_dialog.show()
        self.problems_dialog.raise_()

    def _retry(self, paths: list[str]) -> None:
        if self._can_write():
            self.session.rescan(paths)
            self.statusBar().showMessage(f"Retrying {plural(len(paths), 'file')}…", 4000)

    def _exclude(self, paths: list[str]) -> None:
        if not self._can_write() or not self.snap:
            return
        roots = [r.path for r in self.snap.roots]
        for p in paths:
            self.session.exclude(p, roots).on_failed(self.errors.show)
        self.statusBar().showMessage(f"Excluded {plural(len(paths), 'file')}; they are skipped from now on.", 5000)

    # --- what the workers report -------------------------------------------------------------------

    def _snapshot(self, snap: Snapshot) -> None:
        self.snap = snap
        self.library.set_snapshot(snap)
        text = f"{plural(snap.files, 'file')} · {plural(snap.chunks, 'chunk')} indexed"
        self.status_index.setText(text)
        self._set_backlog(snap.backlog)
        empty = not snap.roots
        self.conversation.welcome.set_mode(empty, snap.files)
        self.act_problems.setEnabled(bool(snap.problems))
        if self.problems_dialog is not None and self.problems_dialog.isVisible():
            self.problems_dialog.set_problems(snap.problems, self.session.writable)
        if not self._indexing and not snap.backlog:
            self.snapshot_timer.setInterval(SNAPSHOT_EVERY_MS * 6)
        else:
            self.snapshot_timer.setInterval(SNAPSHOT_EVERY_MS)

    def _set_backlog(self, left: int) -> None:
        self.status_backlog.setText(f"·  Preparing search by meaning: {plural(left, 'passage')} left")
        self.status_backlog.setToolTip("Vectors for new passages are being computed; until then those passages "
                                       "are found by their words only.")
        self._backlog_shown = left > 0
        if not self.statusBar().currentMessage():
            # While a message is up the status bar hides its normal widgets; showing one now
            # would draw it over the message. _status_message applies it when the message ends.
            self.status_backlog.setVisible(self._backlog_shown)

    def _status_message(self, text: str) -> None:
        if not text:  # the status bar just re-showed every normal widget it had hidden
            self.status_backlog.setVisible(self._backlog_shown)

    def _progress(self, p: Progress) -> None:
        self._indexing = p.phase != "done"
        self.library.set_progress(p)
        if p.phase == "done":
            self.session.refresh()
        elif self.snapshot_timer.interval() != SNAPSHOT_EVERY_MS:
            self.snapshot_timer.setInterval(SNAPSHOT_EVERY_MS)

    def _embed_progress(self, p: Progress) -> None:
        self._set_backlog(p.chunks_to_embed)

    def _report(self, report: IndexReport) -> None:
        self._indexing = False
        self.library.set_progress(Progress("done"))
        self.session.refresh()
        if "no vectors yet" in report.note:
            # The embedding model could not be loaded: say so where it stays visible.
            self.status_mode.setText("Keyword search only")
            self.status_mode.setToolTip(report.note)
            self.status_mode.show()
        elif self.session.writable and self.status_mode.text() == "Keyword search only":
            self.status_mode.hide()
        if report.files_failed:
            self.statusBar().showMessage(f"{plural(report.files_failed, 'file')} could not be indexed; "
                                         "see Problems.", 6000)

    def _watch_status(self, statuses: list[Any]) -> None:
        self.library.set_watch_statuses(statuses)

    def _set_ollama_status(self, st: Any) -> None:
        self.ollama = st
        pal = theme.palette()
        if st is None:
            color, text, tip = theme.secondary_text(pal), "Ollama: checking…", ""
        elif st.ok:
            model = self.session.settings.ollama.chat_model
            color, text = theme.ok_color(pal), f"Ollama: ready ({model})"
            tip = f"Ollama {st.version} at {st.url}"
        elif st.reachable:
            color, text, tip = theme.warn_color(pal), "Ollama: model missing", f"{st.error}\n{st.action}"
        else:
            color, text, tip = theme.problem_color(pal), "Ollama: not running", f"{st.error}\n{st.action}"
        self.status_dot.setPixmap(theme.dot_icon(color).pixmap(12, 12))
        self.status_ollama.setText(text)
        self.status_ollama.setToolTip(tip.strip())
        self.conversation.welcome.set_ollama(self._ollama_html(st))
        if st is not None and st.ok and self.conversation.banner.isVisible() \
                and getattr(self, "_banner_is_ollama", False) and self.pull_task is None:
            self.conversation.banner.hide()

    def _ollama_html(self, st: Any) -> str:
        if st is None:
            return "Looking for Ollama…"
        ok = theme.css(theme.ok_color(theme.palette()))
        bad = theme.css(theme.problem_color(theme.palette()))
        if st.ok:
            models = ", ".join(st.models[:4]) + (" …" if len(st.models) > 4 else "")
            return (f"<span style='color:{ok}'>●</span> Ollama {html.escape(st.version)} found at "
                    f"{html.escape(st.url)} with {html.escape(models)}.")
        fix = html.escape(st.action) if st.action else ""
        return (f"<span style='color:{bad}'>●</span> {html.escape(st.error)}<br>{fix}<br>"
                "Without Ollama, Quire still finds the best passages for each question.")

    # --- questions ---------------------------------------------------------------------------------

    def focus_question(self) -> None:
        self.conversation.edit.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def ask(self, question: str, regenerate: bool = False) -> None:
        if self.ask_task is not None or self.session.reader is None:
            return
        if self.snap is not None and not self.snap.roots:
            # Nothing to answer from: "no passage matches" (and a saved conversation saying so)
            # read as if the files had been searched.
            self.conversation.banner.show_message(
                "info", "<b>Your library is empty.</b> Add the folders that hold your documents, then ask.",
                [("Add a folder…", self.choose_folder)])
            self._banner_is_ollama = False
            self.conversation.edit.setPlainText(question)  # kept for when there is something to ask
            return
        turn = self.conversation.start_turn(question)
        task = self.session.ask(question, self.chat_id, regenerate)
        task.token.connect(lambda piece: turn.add_tokens(piece) if task is self.ask_task else None)
        task.chat.connect(self._chat_known)
        task.done.connect(lambda result: self._answered(task, turn, result))
        task.failed.connect(lambda exc: self._ask_failed(task, turn, exc))
        self.ask_task, self.ask_turn = task, turn
        self.conversation.set_busy(True)
        self.sources.show_sources((), question, "streaming")

    def _chat_known(self, chat: Any) -> None:
        if self.chat_id != chat.id:
            self.chat_id = chat.id
            self.chats.set_current(chat.id)
            self.conversation.set_title(chat.name)
            self.session.list_chats().on_done(self._chats_loaded)

    def _answered(self, task: Any, turn: Turn, result: Any) -> None:
        self.session.list_chats().on_done(self._chats_loaded)
        if task is not self.ask_task:
            return
        _, answer = result
        self._ask_over()
        turn.finish(answer)
        if self.conversation.selected is turn:
            self._turn_selected(turn)
        if answer.mode == "passages" and answer.action:
            self._ollama_banner(answer.note, answer.action)
            self.session.check_ollama()

    def _ask_failed(self, task: Any, turn: Turn, exc: BaseException) -> None:
        if task is not self.ask_task:
            return
        self._ask_over()
        if isinstance(exc, Cancelled):
            turn.stop()
            return
        if isinstance(exc, QuireError):
            turn.fail(exc.message + (f" {exc.action}" if exc.action else ""))
        else:
            turn.fail("Something went wrong; the details are in the dialog and the log.")
            self.errors.show(exc)

    def _ask_over(self) -> None:
        self.ask_task = self.ask_turn = None
        self.conversation.set_busy(False)

    def stop_answer(self) -> None:
        """Esc / Stop: the HTTP stream is closed by the cancel token; the window moves on at once."""
        task, turn = self.ask_task, self.ask_turn
        if task is None:
            return
        task.cancel.cancel()
        self._ask_over()
        if turn is not None:
            turn.stop()
            self._turn_selected(turn)
        self.focus_question()

    def regenerate_last(self) -> None:
        turns = self.conversation.turns
        if not turns or self.ask_task is not None:
            return
        last = turns[-1]
        self.conversation.turns.remove(last)
        last.setParent(None)
        last.deleteLater()
        self.ask(last.question, regenerate=True)

    def _turn_selected(self, turn: Turn | None) -> None:
        if turn is None:
            self.sources.show_sources((), "", "")
        elif turn.given:
            mode = "unanswered" if says_no_answer(turn.text) else "uncited"
            self.sources.show_sources(turn.given, turn.query, mode)
        else:
            self.sources.show_sources(turn.sources, turn.query, turn.mode)

    def _ollama_banner(self, note: str, action: str) -> None:
        st = self.ollama
        model = self.session.settings.ollama.chat_model
        actions: list[tuple[str, Any]] = []
        missing = st is not None and st.reachable or "not on the Ollama server" in note
        if missing:
            actions.append((f"Pull {model}", lambda: self.pull_model(model)))
        elif self._ollama_exe:
            actions.append(("Start Ollama", self.start_ollama))
        actions.append(("Settings…", self.open_settings))
        actions.append(("Check again", self.session.check_ollama))
        self._banner_is_ollama = True
        fix = _in_window_words(action, pull_button=missing)
        self.conversation.banner.show_message(
            "warning", f"<b>Showing passages, not a written answer.</b> {html.escape(note)}"
                       + (f"<br>To get written answers: {html.escape(fix)}" if fix else ""), actions)

    def start_ollama(self) -> None:
        if self._ollama_exe and QProcess.startDetached(self._ollama_exe, ["serve"])[0]:
            self.statusBar().showMessage("Starting Ollama…", 5000)
            QTimer.singleShot(2500, self.session.check_ollama)
        else:
            self.statusBar().showMessage("Ollama could not be started; start it with `ollama serve`.", 8000)

    def pull_model(self, model: str) -> None:
        if self.pull_task is not None:
            return
        banner = self.conversation.banner
        banner.show_message("info", f"Downloading <b>{html.escape(model)}</b> onto the Ollama server…", [],
                            closable=False)
        banner.set_progress(None, "Starting…")

        def progress(p: Any) -> None:
            frac = p.fraction
            text = f"{p.status} · {p.completed / 1e6:,.0f} of {p.total / 1e6:,.0f} MB" if p.total else p.status
            banner.set_progress(frac, text)

        def done(_: object) -> None:
            self.pull_task = None
            banner.show_message("info", f"<b>{html.escape(model)}</b> is ready: questions get written answers now.")
            QTimer.singleShot(4000, banner.hide)
            self.session.check_ollama()

        def failed(exc: BaseException) -> None:
            self.pull_task = None
            banner.hide()
            self.errors.show(exc)

        self.pull_task = self.session.pull(model).on_progress(progress).on_done(done).on_failed(failed)

    # --- conversations -------------------------------------------------------------------------------

    def _chats_loaded(self, chats: list[Any]) -> None:
        self.chats.set_chats(chats)
        self.chats.set_current(self.chat_id)

    def new_chat(self) -> None:
        self.stop_answer()
        self.chat_id = None
        self.chats.set_current(None)
        self.conversation.clear()
        self.conversation.set_title("New conversation")
        self.focus_question()

    def open_chat(self, chat_id: int) -> None:
        self.stop_answer()
        self.chat_id = chat_id
        self.chats.set_current(chat_id)
        item = self.chats.list.currentItem()
        self.conversation.set_title(item.text() if item is not None else "Conversation")
        self.session.load_chat(chat_id).on_done(
            lambda msgs: self.conversation.load(msgs) if self.chat_id == chat_id else None
        ).on_failed(self.errors.show)

    def _delete_chat(self, chat_id: int) -> None:
        answer = QMessageBox.question(self, "Delete this conversation?",
                                      "Delete the conversation and its answers? This cannot be undone.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        if chat_id == self.chat_id:
            self.new_chat()
        self.session.delete_chat(chat_id).on_done(
            lambda _: self.session.list_chats().on_done(self._chats_loaded)).on_failed(self.errors.show)

    def _rename_chat(self, chat_id: int) -> None:
        # The conversation the menu was opened on, not the one that is open.
        name, ok = QInputDialog.getText(self, "Rename conversation", "Name:", text=self.chats.name_of(chat_id))
        if ok and name.strip():
            def renamed(_: object) -> None:
                if chat_id == self.chat_id:
                    self.conversation.set_title(name.strip())
                self.session.list_chats().on_done(self._chats_loaded)

            self.session.rename_chat(chat_id, name).on_done(renamed).on_failed(self.errors.show)

    # --- settings ------------------------------------------------------------------------------------

    def open_settings(self) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return
        index_exists = bool(self.snap and (self.snap.chunks or self.snap.files))
        d = SettingsDialog(self.session.settings, index_exists, self)
        d.models_wanted.connect(self._fetch_models)
        d.finished.connect(lambda code: self._settings_closed(d, code))
        self.settings_dialog = d
        self._fetch_models(self.session.settings.ollama.url)
        d.open()

    def _fetch_models(self, url: str) -> None:
        d = self.settings_dialog
        if d is None:
            return
        self.session.list_models(url).on_done(lambda models: d.set_models(models) if self.settings_dialog is d
                                              else None)

    def _settings_closed(self, d: SettingsDialog, code: int) -> None:
        self.settings_dialog = None
        if code and d.result_settings is not None and d.changed_values():
            index_changed = any(n.startswith("index.") for n in d.changed_values())
            self._apply_settings(d.result_settings, d.needs_rebuild(), rescan=index_changed)
        d.deleteLater()

    def _apply_settings(self, new: Settings, needs_rebuild: bool, rescan: bool = False,
                        force_rebuild: bool = False) -> None:
        if (needs_rebuild or force_rebuild) and self.session.writable:
            self.session.plan_rebuild(new).on_done(lambda plan: self._confirm_rebuild(new, plan, rescan)) \
                .on_failed(self.errors.show)
            return
        self._run_settings(new, rebuild=False, rescan=rescan)

    def _confirm_rebuild(self, new: Settings, plan: Any, rescan: bool) -> None:
        if plan is None:  # nothing indexed yet, or the index already fits
            self._run_settings(new, rebuild=False, rescan=rescan)
            return
        choice = self.ask_rebuild(f"{plan.describe()}\n\nRebuild now? Until the index is rebuilt, questions are "
                                  "answered from the index as it is.")
        if choice == "now":
            self._run_settings(new, rebuild=True, rescan=rescan)
        elif choice == "later":
            self._run_settings(new, rebuild=False, rescan=rescan)
        else:
            self.statusBar().showMessage("Settings not changed.", 4000)

    def ask_rebuild(self, text: str) -> str:
        """"now", "later" (save the settings; a banner offers the rebuild) or "discard". A plain
        No used to throw every edit of the dialog away, those that need no rebuild too."""
        box = QMessageBox(QMessageBox.Icon.Question, "Rebuild the index?", text, parent=self)
        now = box.addButton("Rebuild now", QMessageBox.ButtonRole.AcceptRole)
        later = box.addButton("Save, rebuild later", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Discard changes", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(now)
        box.exec()
        return "now" if box.clickedButton() is now else "later" if box.clickedButton() is later else "discard"

    def _run_settings(self, new: Settings, rebuild: bool, rescan: bool) -> None:
        if rebuild:
            self.rebuilding = True
            self.conversation.banner.show_message(
                "info", "<b>Rebuilding the index</b> for the new settings. Questions are answered from the current "
                        "index until the new one is ready.", [], closable=False)
            self.conversation.banner.set_progress(None, "Starting…")
            self._banner_is_ollama = False

        def done(_: object) -> None:
            if rebuild:
                self.rebuilding = False
                self.status_rebuild.hide()
                self.conversation.banner.show_message("info", "The index was rebuilt for the new settings.")
                QTimer.singleShot(4000, self.conversation.banner.hide)
            else:
                self.statusBar().showMessage("Settings saved.", 4000)

        def failed(exc: BaseException) -> None:
            self.rebuilding = False
            self.status_rebuild.hide()
            if rebuild:
                self.conversation.banner.hide()
            self.errors.show(exc)

        self.session.apply_settings(new, rebuild, rescan).on_done(done).on_failed(failed)

    def _rebuild_progress(self, p: Progress) -> None:
        if not self.rebuilding:
            return
        banner = self.conversation.banner
        if p.phase == "parse" and p.files_total:
            banner.set_progress(p.files_done / p.files_total, f"{p.files_done:,} of {p.files_total:,} files")
        elif p.phase == "embed":
            banner.set_progress(None, f"{p.chunks_embedded:,} chunks embedded")
        elif p.phase != "done":
            banner.set_progress(None, p.message or "Working…")

    # --- about -----------------------------------------------------------------------------------------

    def about(self) -> None:
        versions(self.paths, self.log_path).on_done(lambda v: AboutDialog(v, self).open())

    # --- drag and drop ---------------------------------------------------------------------------------

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:
        if e.mimeData().hasUrls() and any(u.isLocalFile() for u in e.mimeData().urls()):
            e.acceptProposedAction()
        else:
            e.ignore()

    def dragMoveEvent(self, e: Any) -> None:
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if not paths:
            e.ignore()
            return
        e.acceptProposedAction()
        self.add_paths(paths)

    # --- window state ----------------------------------------------------------------------------------

    def _restore(self) -> None:
        s = self.ui_settings
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        else:
            self.resize(1280, 800)
        for key, split in (("window/main_split", self.main_split), ("window/left_split", self.left_split)):
            state = s.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                split.restoreState(state)

    def _save(self) -> None:
        s = self.ui_settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/main_split", self.main_split.saveState())
        s.setValue("window/left_split", self.left_split.saveState())
        s.sync()

    def changeEvent(self, e: QEvent) -> None:
        super().changeEvent(e)
        if e.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange, QEvent.Type.ThemeChange) \
                and not self._restyling:
            self._restyling = True
            QTimer.singleShot(0, self._restyle)

    def _restyle(self) -> None:
        self.conversation.restyle()
        self.sources.restyle()
        self.library.restyle()
        self.chats.restyle()
        self._set_ollama_status(self.ollama)
        self._restyling = False

    def closeEvent(self, e: QCloseEvent) -> None:
        if self._closed:
            e.accept()
            return
        e.ignore()
        if self._closing:
            return
        self._closing = True
        self._save()
        self.snapshot_timer.stop()
        self.health_timer.stop()
        if self.pull_task is not None:
            self.pull_task.cancel.cancel()
        if self.ask_task is not None:
            self.stop_answer()
        self.centralWidget().setEnabled(False)
        self.statusBar().showMessage("Closing: stopping indexing and answers…")
        self.session.shutdown().finished.connect(self._shut_down)

    def _shut_down(self) -> None:
        self._closed = True
        self.close()
        self.closed.emit()


def _in_window_words(action: str, pull_button: bool) -> str:
    """The core's advice, written for the command line, as the window says it: no command a
    button beside it does, and settings by where they are in the window."""
    if pull_button and "quire models pull" in action:
        return ""  # the "Pull …" button does it
    action = action.replace("set [ollama] url", "set the Ollama URL in Settings (Answers)")
    return action.replace("[ollama] url", "the Ollama URL in Settings (Answers)")


def _padded(w: QWidget) -> QWidget:
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(8, 8, 8, 8)
    lay.addWidget(w)
    return box
