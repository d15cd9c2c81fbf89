"""Screenshots of the real window in its main states, for the README and for looking at it.

    scripts/screenshots.sh            # under Xvfb when it is installed, else Qt's offscreen platform

Starts the fake Ollama server from the tests, makes a throwaway QUIRE_HOME with a sample library
(resources/samples plus a small PDF drawn with QPdfWriter and a few hundred generated notes so
indexing is visible), opens the window, drives it like a person would, and saves
docs/screenshots/{first-run,indexing,answer,ollama-down,settings,answer-dark}.png.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QMarginsF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPalette, QPdfWriter  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

MINILM = REPO.parent / "shared" / "models" / "all-minilm-l6-v2-onnx"
OUT = REPO / "docs" / "screenshots"
SIZE = (1280, 800)
MAX_BYTES = 190_000

LEASE_PAGES = [
    ("Tenancy agreement: house rules", [
        "This agreement is between the landlord, Marguerite Olsen, and the tenant of flat 3B at 14 Linden Row.",
        "The rent is 1,150 euros a month, paid by bank transfer on or before the first day of each month. "
        "A payment more than ten days late costs a fee of 40 euros.",
        "The deposit is two months' rent. It is returned within thirty days after the keys are handed back, "
        "less the cost of any damage beyond normal wear.",
    ]),
    ("Ending the tenancy", [
        "The tenant may end the tenancy by giving two months' notice in writing. The notice period starts on "
        "the first day of the month after the landlord receives the letter.",
        "The landlord must give at least four months' notice, and only for a reason the law allows.",
        "At the end of the tenancy the flat must be left clean, with all keys returned, including the key to "
        "the bicycle storage.",
    ]),
]


def answer_like_a_model(messages: list[dict[str, Any]]) -> str:
    """A grounded-looking answer for the fake server: a sentence from each of the (at most two)
    passages that share a word with the question, cited."""
    prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    question = prompt.rsplit("Question:", 1)[-1].lower()
    wanted = {w for w in re.findall(r"[a-z]{4,}", question)} - {"what", "when", "where", "which", "have", "give",
                                                               "answer", "passages", "above", "cite", "them"}
    picked = []
    for n, body in re.findall(r"^\[(\d+)\][^\n]*\n(.+?)(?=\n\s*\n|\Z)", prompt, re.M | re.S):
        lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
        if lines and len(lines[0]) < 60 and not lines[0].endswith((".", "!", "?")):
            lines = lines[1:]  # a heading
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(lines))
        best = max(sentences, key=lambda x: len(wanted & set(re.findall(r"[a-z]{4,}", x.lower()))), default="")
        if best and wanted & set(re.findall(r"[a-z]{4,}", best.lower())):
            picked.append((n, best.strip().rstrip(".")))
        if len(picked) == 2:
            break
    if not picked:
        return "The documents do not contain the answer."
    text = f"{picked[0][1]} [{picked[0][0]}]."
    if len(picked) > 1:
        text += f" {picked[1][1]} [{picked[1][0]}]."
    return text


def make_pdf(path: Path) -> None:
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A5))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setResolution(150)
    writer.setTitle("Tenancy agreement")
    p = QPainter(writer)
    width = writer.width()
    for i, (title, paras) in enumerate(LEASE_PAGES):
        if i:
            writer.newPage()
        y = 0.0
        p.setFont(QFont("DejaVu Sans", 14, QFont.Weight.Bold))
        r = p.boundingRect(QRectF(0, y, width, 1000), Qt.TextFlag.TextWordWrap, title)
        p.drawText(r, Qt.TextFlag.TextWordWrap, title)
        y += r.height() + 30
        p.setFont(QFont("DejaVu Sans", 10))
        for para in paras:
            r = p.boundingRect(QRectF(0, y, width, 2000), Qt.TextFlag.TextWordWrap, para)
            p.drawText(r, Qt.TextFlag.TextWordWrap, para)
            y += r.height() + 24
    p.end()


def make_library(base: Path) -> tuple[Path, Path]:
    household = base / "Documents" / "Household"
    household.mkdir(parents=True)
    for f in (REPO / "resources" / "samples").iterdir():
        if f.is_file():
            shutil.copy(f, household / f.name)
    make_pdf(household / "tenancy-agreement.pdf")
    archive = base / "Documents" / "Club newsletters"
    archive.mkdir(parents=True)
    topics = ["the spring fair", "the library move", "bicycle repairs", "the choir", "the tool lending shelf",
              "the winter market", "street trees", "the reading group"]
    for i in range(1500):
        t = topics[i % len(topics)]
        (archive / f"newsletter-{i:04d}.txt").write_text(
            f"Newsletter {i}\n\nThis issue covers {t}. Volunteers met on day {i % 28 + 1} and agreed on the "
            f"next steps. Thanks to everyone who helped with {topics[(i + 3) % len(topics)]} last month.\n"
            + f"Minutes were taken and shared. The next meeting is on day {(i * 7) % 28 + 1}.\n" * 4,
            encoding="utf-8")
    return household, archive


def dark_palette() -> QPalette:
    """A dark desktop palette, as a dark GNOME or KDE session hands to Qt."""
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d31", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2023", QPalette.ColorRole.AlternateBase: "#2b2d31",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#34363b",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#4c7ff0",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#34363b",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8d93",
        QPalette.ColorRole.Link: "#7aa2ff", QPalette.ColorRole.Mid: "#45474d", QPalette.ColorRole.Dark: "#18191b",
        QPalette.ColorRole.Light: "#404247", QPalette.ColorRole.Midlight: "#3a3c41",
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#777a80"))
    return pal


def wait(app: QApplication, cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def shoot(app: QApplication, w: QWidget, name: str, settle_s: float = 0.4) -> Path:
    settle(app, settle_s)
    img = w.grab().toImage()
    out = OUT / f"{name}.png"
    img.save(str(out), "PNG", 9)
    if out.stat().st_size > MAX_BYTES:  # 8-bit colour, only when needed: it greys out subtle tints
        img.convertToFormat(QImage.Format.Format_Indexed8, Qt.ImageConversionFlag.ThresholdDither
                            | Qt.ImageConversionFlag.AvoidDither).save(str(out), "PNG", 9)
    print(f"{out.relative_to(REPO)}: {img.width()}x{img.height()}, {out.stat().st_size // 1024} KB")
    return out


def ask(app: QApplication, w: Any, question: str) -> Any:
    w.conversation.edit.setPlainText(question)
    w.conversation._submit()
    wait(app, lambda: w.ask_task is None and w.conversation.turns
         and w.conversation.turns[-1].mode not in ("streaming",), 60, "the answer")
    return w.conversation.turns[-1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary home (printed)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="quire-shots-"))
    os.environ["QUIRE_HOME"] = str(tmp / "home")
    for k in list(os.environ):
        if k.startswith("QUIRE_") and k != "QUIRE_HOME":
            del os.environ[k]
    OUT.mkdir(parents=True, exist_ok=True)

    from app.core.config import Paths, Settings
    from app.ui import theme
    from app.ui.app import create_app
    from app.ui.main_window import MainWindow
    from tests.fake_ollama import FakeOllama

    app = create_app(sys.argv[:1])
    app.setFont(QFont("DejaVu Sans", 10))
    fake = FakeOllama().start()
    fake.responder = answer_like_a_model
    fake.words_per_chunk = 2
    values: dict[str, Any] = {"ollama.url": fake.url, "index.workers": 1}
    if MINILM.is_dir():
        values["embedding.model_path"] = str(MINILM)
    else:
        values["embedding.backend"] = "none"
    paths = Paths.default()
    settings = Settings().with_values(values)
    household, archive = make_library(tmp)
    window = MainWindow(paths, settings, str(paths.log_dir / "quire.log"))
    window.resize(*SIZE)
    window.show()
    window.start()
    try:
        wait(app, lambda: window.opened is not None and window.ollama is not None and window.snap is not None,
             30, "the library to open")
        shoot(app, window, "first-run")

        # The household papers first (and their vectors), then a big folder to watch being indexed.
        window.add_paths([str(household)])
        wait(app, lambda: window.snap is not None and window.snap.files >= 3 and not window._indexing
             and window.snap.vectors >= window.snap.chunks > 0, 120, "the household papers")
        window.add_paths([str(archive)])
        wait(app, lambda: window.library.run_box.isVisible() and window.library.progress is not None
             and window.library.progress.phase == "parse" and window.library.progress.files_done > 300,
             120, "indexing to show progress")
        shoot(app, window, "indexing", settle_s=0.05)
        wait(app, lambda: window.snap is not None and window.snap.files >= 1503 and not window._indexing,
             300, "indexing to finish")

        turn = ask(app, window, "How much notice do I have to give before moving out?")
        if turn.sources:
            window.sources.select(turn.sources[0].n)
        window.conversation.edit.setFocus()
        window.statusBar().clearMessage()  # the steady status line, not "Added 1 item…"
        shoot(app, window, "answer")

        fake.stop()
        window.session.check_ollama()
        wait(app, lambda: window.ollama is not None and not window.ollama.reachable, 20, "Ollama to be seen down")
        ask(app, window, "When is the shared tap switched on again?")
        shoot(app, window, "ollama-down")

        window.open_settings()
        dialog = window.settings_dialog
        assert dialog is not None
        settle(app, 0.6)
        shoot(app, dialog, "settings")
        dialog.reject()

        hints = app.styleHints()
        if hasattr(hints, "setColorScheme"):
            fake.start()
            window.session.check_ollama()
            wait(app, lambda: window.ollama is not None and window.ollama.ok, 20, "Ollama to be back")
            hints.setColorScheme(Qt.ColorScheme.Dark)
            if not theme.is_dark():  # no platform theme here (Xvfb): give Qt the dark palette a desktop would
                app.setPalette(dark_palette())
            settle(app, 0.8)
            window.conversation.banner.hide()
            window.new_chat()
            turn = ask(app, window, "What must never go in the compost bins?")
            if turn.sources:
                window.sources.select(turn.sources[0].n)
            shoot(app, window, "answer-dark")
            hints.setColorScheme(Qt.ColorScheme.Light)
            app.setPalette(app.style().standardPalette())
    finally:
        window.close()
        wait(app, lambda: window._closed, 60, "the window to close")
        fake.stop()
        if args.keep:
            print(f"home kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
