"""pytest-qt fixtures for the window: offscreen Qt, a throwaway QUIRE_HOME, the HashEmbedder,
the fake Ollama server, and windows that are shut down cleanly after each test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core import library as library_mod
from app.core.config import Paths, Settings
from tests.fake_ollama import FakeOllama, fake_ollama_fixture  # noqa: F401
from tests.helpers.embedders import HashEmbedder

WAIT_MS = 30_000


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("QUIRE_HOME", str(tmp_path / "home"))
    for k in list(os.environ):
        if k.startswith("QUIRE_") and k != "QUIRE_HOME":
            monkeypatch.delenv(k)
    return Paths.default()


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> HashEmbedder:
    emb = HashEmbedder()
    monkeypatch.setattr(library_mod, "load_embedder", lambda settings, paths, **kw: emb)
    return emb


@pytest.fixture
def settings(fake_ollama: FakeOllama) -> Settings:
    return Settings().with_values({"ollama.url": fake_ollama.url, "ollama.timeout_s": 10, "index.workers": 1})


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "lease.md").write_text("# Lease\n\nThe tenant must give two months notice before leaving the flat. "
                                "Rent is due on the first day of each month.\n", encoding="utf-8")
    (d / "garden.txt").write_text("The garden hose is stored in the blue shed behind the greenhouse.\n",
                                  encoding="utf-8")
    return d


@pytest.fixture
def make_window(qtbot: Any, home: Paths, settings: Settings, embedder: HashEmbedder,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    from PySide6.QtGui import QDesktopServices

    from app.ui.main_window import MainWindow

    opened: list[Any] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: True)  # never launch real programs

    def make(s: Settings | None = None, wait_open: bool = True) -> MainWindow:
        w = MainWindow(home, s or settings, str(home.log_dir / "quire.log"))
        opened.append(w)
        w.show()
        w.start()
        if wait_open:
            qtbot.waitUntil(lambda: w.opened is not None, timeout=WAIT_MS)
        return w

    yield make
    for w in opened:
        close(qtbot, w)


def close(qtbot: Any, w: Any) -> None:
    if not w._closed:
        w.close()
        qtbot.waitUntil(lambda: w._closed, timeout=WAIT_MS)


def library_state(w: Any) -> dict[str, str]:
    """Each library row's state line, by path."""
    return {path: row.state.text() for path, (_, row) in w.library._rows.items()}


def wait_indexed(qtbot: Any, w: Any, path: str, files: int) -> None:
    def ready() -> bool:
        snap = w.snap
        if snap is None:
            return False
        root = next((r for r in snap.roots if r.path == path), None)
        return root is not None and root.files >= files and library_state(w).get(path, "").startswith("Ready")

    qtbot.waitUntil(ready, timeout=WAIT_MS)


def ask(qtbot: Any, w: Any, question: str, wait: bool = True) -> Any:
    """Type a question and press Enter, as a person would; returns the answer's Turn."""
    from PySide6.QtCore import Qt

    edit = w.conversation.edit
    edit.setFocus()
    edit.setPlainText(question)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    turn = w.conversation.turns[-1]
    if wait:
        qtbot.waitUntil(lambda: turn.mode != "streaming", timeout=WAIT_MS)
    return turn


def add_folder(qtbot: Any, w: Any, folder: Path, monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    """File > Add a Folder…, with the folder dialog answering ``folder``; waits until it is indexed."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    w.act_add_folder.trigger()
    wait_indexed(qtbot, w, str(folder), files)
