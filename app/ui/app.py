"""`quire` with no arguments: the window."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.cli import setup_logging
from app.core.config import Paths, Settings, load_settings
from app.core.errors import ConfigError

from . import theme
from .errors import ErrorReporter
from .main_window import MainWindow

log = logging.getLogger(__name__)


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv if argv is not None else sys.argv))
    app.setApplicationName("Quire")
    app.setApplicationDisplayName("Quire")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Quire")
    app.setDesktopFileName("quire")
    app.setWindowIcon(theme.app_icon())
    return app


def run(argv: Sequence[str] | None = None) -> int:
    paths = Paths.default()
    log_path = setup_logging(paths, verbose=bool(os.environ.get("QUIRE_VERBOSE")))
    app = create_app(argv)
    reporter = ErrorReporter(log_path)
    reporter.install_hooks()
    try:
        settings = load_settings(paths)
    except ConfigError as exc:
        # A broken settings file must not keep the window shut: say what is wrong, use defaults.
        log.warning("settings: %s", exc.message)
        QMessageBox.warning(None, "Quire", f"{exc.message}\n\n{exc.action or ''}\n\nQuire starts with the default "
                                           "settings; saving settings from the window rewrites the file.")
        settings = Settings()
    window = MainWindow(paths, settings, log_path, reporter)
    window.show()
    window.start()
    log.info("window opened (Quire %s, data in %s)", __version__, paths.data_dir)
    code = app.exec()
    reporter.uninstall_hooks()
    return int(code)
