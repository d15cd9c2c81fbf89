"""One place that shows any exception (Anki's ``show_exception``, qutebrowser's crash dialog).

Cancelled is silent; a QuireError is a short message with the action that fixes it; anything
else is a bug: it is logged with its traceback and shown with the log's path and a Copy button.
Uncaught exceptions on any thread (``sys.excepthook``, ``threading.excepthook``) land here
too, on the GUI thread, and the window lives on.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import Cancelled, QuireError

from . import theme

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()


class CrashDialog(QDialog):
    """An unexpected error: what happened, where the log is, the details, and Copy."""

    def __init__(self, exc: BaseException, log_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quire ran into a problem")
        self.setMinimumWidth(560)
        self.details = describe(exc)
        lay = QVBoxLayout(self)
        head = QLabel(f"Something went wrong: <b>{_esc(type(exc).__name__)}</b>: {_esc(str(exc) or '(no message)')}")
        head.setWordWrap(True)
        head.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(head)
        info = QLabel("Quire keeps running, and what was indexed is safe. The details below are also in the "
                      f"log file:<br><code>{_esc(log_path)}</code>")
        info.setWordWrap(True)
        info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(info)
        text = QPlainTextEdit(self.details)
        text.setReadOnly(True)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        text.setFont(theme.scaled_font(text, 0.9))
        text.setMinimumHeight(180)
        lay.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy details")
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.copy_button = copy

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.details)
        self.copy_button.setText("Copied")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ErrorReporter(QObject):
    """Shows errors as dialogs parented to the window; thread-safe through ``report``."""

    report = Signal(object)

    def __init__(self, log_path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.window: QWidget | None = parent
        self.shown: list[BaseException] = []  # what was shown, for tests and the About box
        self._open: list[QDialog] = []
        self.report.connect(self.show, Qt.ConnectionType.QueuedConnection)

    def show(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            return
        self.shown.append(exc)
        if isinstance(exc, QuireError):
            box = QMessageBox(QMessageBox.Icon.Warning, "Quire", exc.message, QMessageBox.StandardButton.Ok,
                              self.window)
            if exc.action:
                box.setInformativeText(exc.action)
            dialog: QDialog = box
        else:
            if len(self._open) >= 3:  # an error in a loop must not bury the window in dialogs
                return
            dialog = CrashDialog(exc, self.log_path, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._open.append(dialog)
        dialog.finished.connect(lambda _=0, d=dialog: self._open.remove(d) if d in self._open else None)
        dialog.open()

    def install_hooks(self) -> None:
        """Route uncaught exceptions from any thread here (and to the log)."""

        def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            if issubclass(kind, KeyboardInterrupt):
                sys.__excepthook__(kind, exc, tb)
                return
            if exc.__traceback__ is None:
                exc = exc.with_traceback(tb)
            if not isinstance(exc, QuireError):
                log.error("uncaught exception", exc_info=(kind, exc, tb))
            self.report.emit(exc)

        def thread_hook(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None:
                hook(args.exc_type, args.exc_value, args.exc_traceback)

        sys.excepthook = hook
        threading.excepthook = thread_hook

    @staticmethod
    def uninstall_hooks() -> None:
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__
