"""The layering rules: core never imports Qt; the UI never touches the store, SQLite or HTTP."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import app.core

REPO = Path(__file__).resolve().parents[2]


def test_core_imports_no_qt():
    mods = sorted(m.name for m in pkgutil.walk_packages(app.core.__path__, "app.core."))
    assert "app.core.indexer" in mods and "app.core.parse" in mods
    code = ("import sys, importlib\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6')"
            " or m.startswith(('app.ui', 'app.workers')))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "", f"app.core pulled in: {out.stdout}"


def test_ui_does_not_touch_store_sqlite_or_http():
    pattern = re.compile(r"^\s*(from|import)\s+(lancedb|sqlite3|httpx|requests|ollama|pyarrow)\b", re.M)
    for f in (REPO / "app" / "ui").rglob("*.py"):
        assert not pattern.search(f.read_text()), f"{f} reaches past app.workers/app.core"
