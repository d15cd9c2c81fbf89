"""The log file: what the command line and the window write there."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.cli import setup_logging
from app.core.config import Paths


def test_a_file_name_that_is_not_utf8_is_logged_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The watcher logged such a name with a strict UTF-8 handler: a '--- Logging error ---'
    traceback on stderr, and the line was lost."""
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        where = setup_logging(Paths(tmp_path, tmp_path))
        logging.getLogger("app.core.watch").info("watch: indexing %s took 2.0 s", "/docs/caf\udce9.txt")
        for h in root.handlers:
            h.flush()
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)
                h.close()
    assert "Logging error" not in capsys.readouterr().err
    assert "watch: indexing /docs/caf\\udce9.txt took 2.0 s" in Path(where).read_text(encoding="utf-8")
